"""Builds in real mock: the builders' mock, the offline buildroot, and build fixtures."""
