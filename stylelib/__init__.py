"""stylelib: neural style transfer, as taught in the course's lessons.

Modules, one layer per line, lowest first. A module imports only from the lines above its
own. On the methods' lines, ``|`` separates methods, which never import each other (a rule
two methods share moves down a layer), and ``->`` orders the modules of one method::

    errors
    files, devices, deprecation
    layers
    config
    images
    data, color
    weights
    netnorm
    vgg
    losses, checkpoints
    trainkit
    gatys: optimize | johnson: transformer -> train -> superres | adain: adain
    models
    figures, diagrams, viz
    env
    widgets, checks, course
    cli_fast
    cli_sr, cli_adain
    cli

``viz`` is the deprecated old home of ``figures`` and ``diagrams``: its names still work,
with a warning, for one release. ``tests/test_package.py`` reads this diagram and holds the
code to it.
"""

__version__ = "0.1.0"
