"""The one way tounum finds its inputs and reads and writes images.

``read_image`` reads by content into 8-bit RGB or refuses with ``ImageReadError("<path>:
<reason>")``; ``discover`` lists inputs as a pandas manifest; ``write_image``/``atomic_write``
write atomically; ``safe_output_path`` and ``check_output_dir`` keep outputs inside the output
folder and away from the inputs; ``tounum.io.metadata`` puts captions into XMP and IPTC.
"""

from tounum.io.discover import discover, read_path_list
from tounum.io.metadata import caption_metadata, embed_metadata, read_metadata
from tounum.io.read import FORMATS, ImageReadError, LoadedImage, display_path, read_image, sha256_file
from tounum.io.write import (OutputPathError, atomic_write, check_output_dir, remove_temporaries,
                             safe_output_path, write_image)

__all__ = ["FORMATS", "ImageReadError", "LoadedImage", "OutputPathError", "atomic_write", "caption_metadata",
           "check_output_dir", "discover", "display_path", "embed_metadata", "read_image", "read_metadata",
           "read_path_list", "remove_temporaries", "safe_output_path", "sha256_file", "write_image"]
