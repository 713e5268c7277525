"""``python -m sk_brainjepa``: the ``sk-brainjepa`` command line."""

import sys

from sk_brainjepa.cli import main

if __name__ == "__main__":
    sys.exit(main())
