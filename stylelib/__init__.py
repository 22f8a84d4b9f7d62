"""stylelib: neural style transfer, as taught in the course's lessons.

Modules, lower layers first: ``config``, ``images`` -> ``vgg`` (with ``weights``) ->
``losses`` -> ``cli``.
"""

__version__ = "0.1.0"
