from anagen.formats.en_GB.formats import *  # noqa: F403
