"""The one way tounum reads and writes images and finds its inputs."""

from tounum.io.read import FORMATS, ImageReadError, LoadedImage, read_image, sha256_file

__all__ = ["FORMATS", "ImageReadError", "LoadedImage", "read_image", "sha256_file"]
