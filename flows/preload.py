"""Imported once in the warm fork server of ``ledgerflow serve`` (flows/warm.py), after the modules:
what every served run would otherwise do first is done there, and each run forked from it starts
with it in memory. Only what stays true for any run: the default campaign template, parsed (its
cache is keyed by the file's size and mtime, so an edited template is parsed again by the run)."""

from ledgerflow.settings import Settings
from ledgerflow.template import load_template

try:
    load_template(str(Settings().template))
except Exception:  # noqa: BLE001 - a broken template is the run's to report, with its message
    pass
