"""ledgerflow: campaign ledgers (台账) from every unit, validated, normalised, loaded and rolled up."""

__version__ = "0.1.0"
