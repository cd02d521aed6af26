"""Expected, user-facing errors. Entry points turn these into one clear line."""


class StylecoreError(Exception):
    """Base class for errors whose message tells the user what to do."""


class ImageError(StylecoreError, ValueError):
    """An input file is not a usable image."""


class ConfigError(StylecoreError, ValueError):
    """A configuration value is out of range or unknown."""


class WeightsError(StylecoreError):
    """VGG19 weights could not be found, downloaded or read."""
