"""stylelib: neural style transfer, as taught in the course's lessons.

One subpackage per method, each with the same files: ``config`` (the config dataclass, its
presets with their sources, its checkpoint kind), the network or the loop, ``train`` where
the method trains, and ``cli`` (its subcommands). Beneath the methods lies the foundation
they share; above them the catalogue of published files, the preset registry, the course
and the ``stylelib`` command.

Modules, one layer per line, lowest first. A module imports only from the lines above its
own. On the methods' lines ``|`` separates methods (a line ending in ``|`` goes on), which
never import each other (a rule two methods share moves down into the foundation), and
``->`` orders the modules of one method.
String imports (``importlib.import_module``, ``"stylelib.mod:attr"``) count as imports::

    errors
    files, devices, blend, composite
    layers, downloads
    config
    images
    data, color, videoio, flow, masks, tiling
    weights, videorun
    netnorm
    vgg
    losses, checkpoints, blocks, trainset, classify
    trainkit
    commands
    gatys: config -> guided -> objective -> transfer, tiled -> explore |
        johnson: config -> network, conditional -> published, masked, tiled -> multistyle, train |
        superres: config, quality -> degrade, network -> train |
        adain: config, layer -> networks -> losses -> train
    catalogue, presets, magenta
    export
    gatys: cli | johnson: cli | superres: cli | adain: cli
    figures, diagrams
    demo, video
    env, panelkit, videofigures
    widgets, adain_panel, multistyle_panel, checks, course
    cli

``tests/test_package.py`` reads this diagram and holds the code to it.
"""

__version__ = "0.1.0"
