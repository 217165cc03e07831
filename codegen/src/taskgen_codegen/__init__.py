"""taskgen's code generator: typed clients and worker scaffolds from contracts; taskgen check."""
