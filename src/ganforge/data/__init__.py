"""Data: sources of images, safe decoding, crop/resize, the data-set file and the training loader.

- ``sources``   where images come from (folder, zip, built-ins); a registry by name
- ``decode``    bytes -> PIL image, never crashing, with a reason when a file is unusable
- ``transforms`` crop, background compositing, resize, channel conversion
- ``prepare``   the ``ganforge data prepare`` job: source -> data-set file + report
- ``dataset``   the data-set file format (zip of PNGs + dataset.json): write and read
- ``loader``    in-memory batches for training, resumable and shardable
"""
