"""What enters the pipeline: the data contract, ingest, the simulator, the importers and the
downloader."""
