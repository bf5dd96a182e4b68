import sys

from collect.family.build import main

sys.exit(main())
