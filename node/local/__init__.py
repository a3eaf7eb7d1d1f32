"""Running fednode on one machine: the demo federation, its data and the harness tests and bench/ share."""
