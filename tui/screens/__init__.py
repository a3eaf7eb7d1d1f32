"""The dashboard's screens: the job review and its modal dialogs."""
