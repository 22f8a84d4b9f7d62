"""stylelib: neural style transfer, as taught in the course's lessons.

Modules, lower layers first: ``errors``, ``files``, ``config`` -> ``images``, ``data`` ->
``layers`` -> ``weights`` -> ``netnorm`` -> ``vgg`` -> ``losses`` -> ``color``, ``optimize``
(Gatys), ``transformer`` -> ``train`` (Johnson) -> ``viz`` -> ``widgets``, ``checks``,
``course``, ``cli``.
"""

__version__ = "0.1.0"
