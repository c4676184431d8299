"""End-to-end scenarios across packages: crashes, faults, corpora, hostile input, install, an invented campaign."""
