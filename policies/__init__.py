"""The site's privacy-policy engine, privacy-budget ledger, tamper-evident audit log, job registry and
approval service. Imports neither NVFlare nor Textual: ``node`` and ``tui`` use it."""
