"""Data: sources of images, safe decoding, crop/resize, the data-set file and the training loader.

- ``sources/``      where images come from (folder, archives, URL lists, built-ins, online); a registry by name
- ``fetch``         the downloader the online sources share: parallel, resumable, failures kept with reasons
- ``fashion_mnist`` finds or downloads the Fashion-MNIST files and reads them
- ``decode``        bytes -> PIL image, never crashing, with a reason when a file is unusable
- ``transforms``    crop (center, pad, face, alpha), background compositing, resize, channel conversion
- ``faces``         offline face detection for ``--crop face`` (OpenCV's Haar cascades)
- ``variants``      extra variants of each image written at prepare time (``--augment N``)
- ``clean``         exact and near duplicates (content hash, perceptual hash)
- ``png``           the fast PNG writer the data-set files use
- ``prepare``       the ``ganforge data prepare`` job: source -> data-set file + report
- ``workers``       prepare's worker processes: results in order, a worker that dies costs one item
- ``layers``        foreground, background and composite sets for layered GANs (MITLGAN)
- ``dataset``       the data-set file format (zip of PNGs + dataset.json): write and read
- ``show``          ``ganforge data show``: a contact sheet and a summary of a data-set file
- ``loader``        in-memory batches for training, resumable and shardable
"""
