"""Clinical-text de-identification for Nordic-Baltic notes, on Microsoft Presidio, fully offline."""
