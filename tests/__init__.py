"""regkit test suite. A package, so that ``tests.*`` never resolves to the stray top-level
``tests`` package a dependency installs into site-packages."""
