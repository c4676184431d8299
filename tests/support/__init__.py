"""What the tests (and the benchmarks) share: local servers, pytest fixtures, helpers, the invented campaign."""
