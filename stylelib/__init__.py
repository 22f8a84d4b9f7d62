"""stylelib: neural style transfer, as taught in the course's lessons.

Modules, lower layers first: ``config``, ``images`` -> ``vgg`` (with ``weights``) ->
``losses`` -> ``color``, ``optimize`` (Gatys), ``transformer`` -> ``train`` (Johnson) ->
``data``, ``viz`` -> ``widgets``, ``checks``, ``course``, ``cli``.
"""

__version__ = "0.1.0"
