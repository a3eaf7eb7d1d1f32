"""The site dashboard: a Textual app over the services in ``policies`` and ``node``."""
