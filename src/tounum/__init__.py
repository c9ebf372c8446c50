"""tounum: clean, classify and caption scanned documents, offline."""

__version__ = "0.1.0"
