"""What the site and the coordinator share: the startup-kit layout, job-meta keys and staging a kit to run."""
