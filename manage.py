#!/usr/bin/env python
"""Django's command-line utility (same as ``python -m cryptotrack``)."""

from cryptotrack.__main__ import main

if __name__ == "__main__":
    main()
