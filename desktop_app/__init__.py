"""ModelDesk: run the whole life of a machine-learning model on one laptop, offline."""

__version__ = "0.1.0"
APP_NAME = "ModelDesk"
