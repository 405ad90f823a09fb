"""OpenIDDS: a software model of an intrathecal drug delivery system for cancer pain.

Research, teaching and clinic-administration software. Not a medical device; it never talks to a real pump.
"""

from openidds.errors import OpenIDDSError

__all__ = ["OpenIDDSError", "__version__"]
__version__ = "0.1.0"
