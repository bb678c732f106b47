"""ECAL data-quality monitoring: occupancy generator, residual autoencoders, corrections, FDR."""
