import sys

from tounum.cli import main

sys.exit(main())
