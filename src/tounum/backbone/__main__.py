import sys

from tounum.backbone.cli import main

sys.exit(main())
