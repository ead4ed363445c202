"""``hf:owner/name[/config][:split]``: an image data set on the Hugging Face Hub, read with huggingface_hub.

The repository's files are listed (``HfApi.dataset_info``, pinned to the commit it names) and read in
one of the two layouts image data sets on the Hub have:

- **Parquet** (``data/train-00000-of-00002.parquet``, what ``datasets.push_to_hub`` writes): the image
  column is a struct ``{bytes, path}``; a ClassLabel column gives the classes, their names from the
  README's YAML ``dataset_info.features`` or the files' own ``huggingface`` schema metadata. Files are
  downloaded one at a time and read a record batch at a time (pyarrow), stopping at ``limit``, so
  memory stays bounded; each image's bytes are written to the download cache.
- **imagefolder** (``train/cat/001.png``): image files, downloaded in parallel; the class is the first
  folder level below the folders all images share (``sources.subfolder_labels``, as ``--labels subfolders``).

A repository with neither (a loading script, CSV, WebDataset...) is read from the Hub's own Parquet
export of it, the ``refs/convert/parquet`` revision (``{config}/{split}/0000.parquet``). Splits come
from the README's YAML ``configs`` when it has them, else from the paths: ``{split}-00000-of-N``
file names, ``train``/``validation``/``test`` folders or words in Parquet file names, else all is
``train``. The token is huggingface_hub's own (``HF_TOKEN`` or ``hf auth login``), so gated data sets
work once their conditions are accepted; the server is ``endpoint`` or ``HF_ENDPOINT``.

Each item records ``url`` (the file at that commit), ``hf_dataset``, ``hf_config``, ``hf_split``,
``hf_revision``, ``hf_file``, ``hf_row`` (Parquet) and the card's ``licence``.

Without huggingface_hub and pyarrow (``pip install 'ganforge[hf]'``), or when ``GANFORGE_HF_API`` (or
the ``api`` option) names a dataset-viewer server, ``hf:`` goes through the dataset-viewer API instead
(``HuggingFaceSource``): it serves any public data set's rows as JSON with each image as a URL.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from ganforge.data.fetch import download_folder, fetch_json, url_file
from ganforge.data.sources.base import IMAGE_SUFFIXES, Source, subfolder_labels
from ganforge.data.sources.downloaded import (
    DEFAULT_ONLINE_LIMIT,
    DownloadedSource,
    LocalFilesSource,
    service_url,
)
from ganforge.download import hub_call
from ganforge.errors import DataError, DownloadError

CONVERTED = "refs/convert/parquet"  # the Hub's Parquet export of every public data set
SPLIT_WORDS = {"train": ("train", "training"), "validation": ("validation", "valid", "val", "dev"),
               "test": ("test", "testing", "eval", "evaluation")}
_SPLIT_OF_WORD = {w: split for split, words in SPLIT_WORDS.items() for w in words}
HINTS = {401: "; gated or private: set HF_TOKEN or run 'hf auth login'",
         403: "; gated: accept its conditions on its Hub page with the account of your token",
         404: " (no such data set, or it is private: set HF_TOKEN)"}


def missing_libraries() -> str | None:
    """None when huggingface_hub and pyarrow are installed, else the missing ones."""
    missing = [m for m in ("huggingface_hub", "pyarrow") if importlib.util.find_spec(m) is None]
    return " and ".join(missing) or None


def note() -> str | None:
    """What ``ganforge data sources`` says about ``hf:`` here: the fallback when the libraries are missing."""
    missing = missing_libraries()
    return f"{missing} missing: read through the dataset-viewer API (pip install 'ganforge[hf]')" if missing else None


def open_hf(argument: str, labels: str | None = None, *, api: str | None = None, **options) -> Source:
    """The ``hf:`` source: huggingface_hub when installed, else (or when asked for) the dataset-viewer API."""
    viewer = api or os.environ.get("GANFORGE_HF_API")
    missing = None if viewer else missing_libraries()
    if missing:
        print(f"hf: {missing} not installed (pip install 'ganforge[hf]'); reading through the dataset-viewer API",
              file=sys.stderr)
    if viewer or missing:
        return HuggingFaceSource(argument, labels, api=api, **options)
    return HubDatasetSource(argument, labels, **options)


class HubDatasetSource(LocalFilesSource):
    def __init__(self, argument: str, labels: str | None = None, *, limit: int | None = None, split: str | None = None,
                 endpoint: str | None = None, token: str | None = None, revision: str | None = None,
                 timeout: float = 20.0, download_workers: int = 8, progress: bool = True, **_):
        import huggingface_hub as hf  # late: optional, and slow to import

        dataset, config, arg_split = parse_hf_spec(argument)
        wanted = split or arg_split
        limit = limit or DEFAULT_ONLINE_LIMIT
        endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None
        api = hf.HfApi(endpoint=endpoint, token=token)

        def call(what, fn, *args, **kwargs):
            return hub_call(f"hf:{dataset}: {what}", endpoint, fn, *args, error=DataError, hints=HINTS, **kwargs)

        def download(name: str, sha: str) -> str:
            return call(f"downloading {name}", hf.hf_hub_download, dataset, name, repo_type="dataset", revision=sha,
                        endpoint=endpoint, token=token, etag_timeout=timeout)

        info = call("listing its files", api.dataset_info, dataset, revision=revision, timeout=timeout)
        files = [s.rfilename for s in info.siblings or []]
        card = _card(download("README.md", info.sha or revision or "main")) if "README.md" in files else {}
        name, kind, by_split = _layout(dataset, files, card, config, converted=revision == CONVERTED)
        if not by_split and revision is None:  # a script, CSV, WebDataset...: the Hub's Parquet export
            try:
                info = call(f"reading its {CONVERTED}", api.dataset_info, dataset, revision=CONVERTED, timeout=timeout)
            except DataError as e:
                raise DataError(f"hf:{dataset}: no Parquet or image files{f' for config {config}' if config else ''}, "
                                f"and no Parquet export ({str(e).split(' failed: ')[-1]})") from None
            files = [s.rfilename for s in info.siblings or []]
            name, kind, by_split = _layout(dataset, files, card, config, converted=True)
        if not by_split:
            raise DataError(f"hf:{dataset}: no Parquet or image files{f' for config {config}' if config else ''}")
        splits = sorted(by_split)
        pick = (wanted if wanted in by_split else _SPLIT_OF_WORD.get(wanted.lower())) if wanted else \
            ("train" if "train" in by_split else splits[0])
        if pick not in by_split:
            raise DataError(f"hf:{dataset}: no split {wanted!r} (splits: {', '.join(splits)})")

        super().__init__(f"hf:{dataset}/{name}:{pick}")
        sha = info.sha or revision or "main"
        licence = card.get("license")
        base = {"hf_dataset": dataset, "hf_config": name, "hf_split": pick, "hf_revision": sha,
                "licence": ", ".join(map(str, licence)) if isinstance(licence, list) else licence}

        def record(file: str, **more) -> dict:
            return {"url": hf.hf_hub_url(dataset, file, repo_type="dataset", revision=sha, endpoint=endpoint),
                    **base, "hf_file": file, **more}

        names = None
        with _progress_bars(progress and kind == "parquet"):
            if kind == "parquet":
                folder = download_folder(f"hf-{dataset}")
                card_features = _card_features(card, name)
                for file in by_split[pick]:
                    if len(self.items) >= limit:
                        break
                    local = download(file, sha)
                    try:
                        names = self._read_parquet(local, file, card_features, folder, limit, record)
                    except (DataError, OSError, ValueError) as e:  # pyarrow's errors are OSErrors and ValueErrors
                        raise DataError(f"hf:{dataset}: cannot read {file}: {' '.join(str(e).split())[:200]}") from None
            else:
                labels_of = dict(zip(by_split[pick], subfolder_labels(by_split[pick])))
                chosen = by_split[pick][:limit]

                def get(file: str) -> tuple[str | None, str | None]:
                    try:
                        return download(file, sha), None
                    except DataError as e:
                        return None, f"download failed: {str(e).split(' failed: ')[-1]}"

                with ThreadPoolExecutor(max(1, download_workers)) as pool:
                    for file, (path, error) in zip(chosen, pool.map(get, chosen)):
                        if path is None:
                            self.skipped.append((file, error or "download failed"))
                        else:
                            self.add(file, Path(path), labels_of[file], record(file))
                names = sorted({v for v in labels_of.values() if v}) or None
        self.stats.update({"revision": sha, "layout": kind, "splits": splits, "classes": names})

    def _read_parquet(self, path: str, file: str, card_features: list[dict], folder: Path, limit: int,
                      record) -> list[str] | None:
        """Add the rows of one Parquet file (up to ``limit`` items in all); returns the class names."""
        import pyarrow.parquet as pq  # late: optional, and slow to import

        pf = pq.ParquetFile(path)
        image_col, label_col, names = hf_columns(card_features)
        if image_col not in pf.schema_arrow.names:
            image_col, label_col, names = hf_columns(_schema_features(pf.schema_arrow))
        if image_col is None:
            raise DataError("no image column (a struct of bytes and path)")
        label_col = label_col if label_col in pf.schema_arrow.names else None
        file_record = record(file)  # the same for every row of the file but its hf_row
        row = 0
        for batch in pf.iter_batches(batch_size=64, columns=[c for c in (image_col, label_col) if c]):
            columns = batch.to_pydict()
            for value, label in zip(columns[image_col], columns.get(label_col) or [None] * batch.num_rows):
                key = f"{file}[{row}]"
                data = value.get("bytes") if isinstance(value, dict) else value
                if not isinstance(data, bytes) or not data:
                    self.skipped.append((key, "row has no image bytes"))
                else:
                    target = url_file(folder, f"{file_record['url']}#{row}")
                    if not target.is_file():  # written once, by name: a resumed run reuses it
                        part = target.with_name(f"{target.name}.{os.getpid()}.part")
                        part.write_bytes(data)
                        os.replace(part, target)
                    self.add(key, target, class_name(label, names), {**file_record, "hf_row": row})
                row += 1
                if len(self.items) >= limit:
                    return names
        return names


class HuggingFaceSource(DownloadedSource):
    """``hf:dataset[/config][:split]`` through the Hub's dataset-viewer API (``/splits`` and ``/rows``).

    The fallback when huggingface_hub or pyarrow is not installed, and what ``GANFORGE_HF_API`` (or the
    ``api`` option) asks for by name (``HubDatasetSource`` reads the repository itself otherwise). The
    API serves any public data set's rows as JSON with each image as a URL, so no data-set library or
    Parquet reader is needed. The first Image column is the image; a ClassLabel column (``label``
    preferred) gives the classes.
    """

    PAGE = 100  # rows per request: the API's maximum

    def __init__(self, argument: str, labels: str | None = None, *, limit: int | None = None, api: str | None = None,
                 split: str | None = None, **options):
        base = service_url(api, "GANFORGE_HF_API", "https://datasets-server.huggingface.co")
        dataset, config, arg_split = parse_hf_spec(argument)
        split = split or arg_split
        limit = limit or DEFAULT_ONLINE_LIMIT
        folder = download_folder(f"hf-{dataset}")
        q = urllib.parse.quote
        try:
            splits = fetch_json(f"{base}/splits?dataset={q(dataset, safe='')}", folder, refresh=True).get("splits", [])
        except DownloadError as e:
            raise DataError(f"hf:{dataset}: cannot list its splits ({e})") from None
        choices = [s for s in splits if (config is None or s.get("config") == config)]
        if not choices:
            raise DataError(f"hf:{dataset}: no such data set or config on the Hub (or it has no viewer)")
        pick = next((s for s in choices if s.get("split") == (split or "train")), None)
        if pick is None and split is None:
            pick = choices[0]
        if pick is None:
            known = ", ".join(sorted({s['split'] for s in choices}))
            raise DataError(f"hf:{dataset}: no split {split!r} (splits: {known})")
        config, split = pick["config"], pick["split"]
        records: list[dict] = []
        no_image: list[tuple[str, str]] = []
        image_col = label_col = None
        names: list[str] | None = None
        offset = 0
        while len(records) < limit:
            url = (f"{base}/rows?dataset={q(dataset, safe='')}&config={q(config, safe='')}&split={q(split, safe='')}"
                   f"&offset={offset}&length={self.PAGE}")
            try:
                page = fetch_json(url, folder)
            except DownloadError as e:
                raise DataError(f"hf:{dataset}: cannot read rows at offset {offset} ({e})") from None
            if image_col is None:
                image_col, label_col, names = hf_columns(page.get("features", []))
                if image_col is None:
                    raise DataError(f"hf:{dataset}: has no image column")
            rows = page.get("rows", [])
            for row in rows:
                value = row.get("row", {}).get(image_col)
                src = value.get("src") if isinstance(value, dict) else None
                index = row.get("row_idx")
                if not src:
                    no_image.append((f"{dataset}[{index}]", "row has no image"))
                    continue
                label = class_name(row["row"].get(label_col) if label_col else None, names)
                records.append({"url": src, "label": label, "hf_dataset": dataset,
                                "hf_config": config, "hf_split": split, "hf_row": index})
            offset += len(rows)
            if not rows or offset >= int(page.get("num_rows_total", 0)):
                break
        super().__init__(f"hf:{dataset}/{config}:{split}", records[:limit], folder, **options)
        self.skipped[:0] = no_image
        self.stats["classes"] = names


def parse_hf_spec(argument: str) -> tuple[str, str | None, str | None]:
    """``owner/name[/config][:split]`` -> (dataset, config, split)."""
    spec, _, split = argument.partition(":")
    parts = spec.strip().split("/")
    if len(parts) < 2:
        return spec.strip(), None, split.strip() or None
    return "/".join(parts[:2]), "/".join(parts[2:]) or None, split.strip() or None


def class_name(label, names: list[str] | None) -> str | None:
    """A ClassLabel value as its name (-1 and None: no label)."""
    if label is None or label == -1:
        return None
    if names is not None and isinstance(label, int) and 0 <= label < len(names):
        return names[label]
    return str(label)


def hf_columns(features: list[dict]) -> tuple[str | None, str | None, list[str] | None]:
    """(image column, label column, class names) from features as the dataset viewer lists them:
    ``[{"name": ..., "type": {"_type": "Image" | "ClassLabel", "names": [...]}}]``."""
    image_col = label_col = None
    names = None
    for f in features:
        t = f.get("type", {})
        if t.get("_type") == "Image" and image_col is None:
            image_col = f["name"]
        if t.get("_type") == "ClassLabel" and (label_col is None or f["name"] == "label"):
            label_col, names = f["name"], list(t.get("names", []))
    return image_col, label_col, names


@contextlib.contextmanager
def _progress_bars(show: bool):
    """huggingface_hub's download bars only where wanted (not one per image of an imagefolder)."""
    from huggingface_hub.utils import (  # optional
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_disabled = are_progress_bars_disabled()
    if not show:
        disable_progress_bars()
    try:
        yield
    finally:
        if not show and not was_disabled:
            enable_progress_bars()


def _card(path: str) -> dict:
    """The YAML front matter of a data set's README.md ({} when it has none)."""
    import yaml  # late: PyYAML comes with huggingface_hub, which is optional

    m = re.match(r"---\s*\n(.*?)\n---\s*(\n|$)", Path(path).read_text(encoding="utf-8", errors="replace"), re.S)
    try:
        meta = yaml.safe_load(m.group(1)) if m else None
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _card_features(card: dict, config: str) -> list[dict]:
    """A config's ``dataset_info.features`` from the card, as the dataset viewer lists features."""
    infos = card.get("dataset_info") or []
    infos = [i for i in ([infos] if isinstance(infos, dict) else infos) if isinstance(i, dict)]
    info = next((i for i in infos if i.get("config_name", "default") == config), infos[0] if len(infos) == 1 else {})
    out = []
    for f in info.get("features") or []:
        if not isinstance(f, dict) or "name" not in f:
            continue
        dtype = f.get("dtype")
        label = dtype.get("class_label") if isinstance(dtype, dict) else f.get("class_label")
        if dtype == "image":
            out.append({"name": f["name"], "type": {"_type": "Image"}})
        elif isinstance(label, dict):
            names = label.get("names") or []
            names = [names[k] for k in sorted(names, key=int)] if isinstance(names, dict) else names
            out.append({"name": f["name"], "type": {"_type": "ClassLabel", "names": [str(n) for n in names]}})
    return out


def _schema_features(schema) -> list[dict]:
    """Features from a Parquet file's ``huggingface`` metadata, else its first ``{bytes, path}`` struct."""
    import pyarrow as pa  # late: optional, and slow to import

    try:
        features = json.loads((schema.metadata or {})[b"huggingface"])["info"]["features"]
        out = [{"name": n, "type": t} for n, t in features.items() if isinstance(t, dict)]
    except (KeyError, TypeError, ValueError):
        out = []
    if not any(f["type"].get("_type") == "Image" for f in out):
        structs = [f.name for f in schema if pa.types.is_struct(f.type) and f.type.get_field_index("bytes") >= 0]
        out += [{"name": structs[0], "type": {"_type": "Image"}}] if structs else []
    return out


def _layout(dataset: str, files: list[str], card: dict, config: str | None,
            converted: bool) -> tuple[str, str, dict[str, list[str]]]:
    """(config name, "parquet" or "images", {split: data files}) of a repository's files."""
    configs = [c for c in card.get("configs") or [] if isinstance(c, dict)]
    patterns, prefix = None, ""
    if configs:
        chosen = next((c for c in configs if c.get("config_name") == config), None) if config else \
            next((c for c in configs if c.get("default")), None) or \
            next((c for c in configs if c.get("config_name") == "default"), configs[0])
        if chosen is None:
            known = ", ".join(str(c.get("config_name")) for c in configs)
            raise DataError(f"hf:{dataset}: no config {config!r} (configs: {known})")
        name = str(chosen.get("config_name", "default"))
        prefix = f"{chosen['data_dir'].strip('/')}/" if chosen.get("data_dir") else ""
        data_files = chosen.get("data_files")
        if data_files:
            data_files = [data_files] if isinstance(data_files, str) else data_files
            if all(isinstance(d, dict) for d in data_files):
                groups = {str(d.get("split", "train")): d.get("path") or [] for d in data_files}
            else:
                groups = {"train": data_files}
            patterns = {s: [_glob(prefix + p) for p in ([ps] if isinstance(ps, str) else ps)]
                        for s, ps in groups.items()}
    elif config or converted:  # a folder per config, as in the Parquet export
        firsts = sorted({f.split("/")[0] for f in files if "/" in f})
        name = config or ("default" if "default" in firsts or not firsts else firsts[0])
        prefix = name + "/"
    else:
        name = "default"
    inside = [f for f in files if f.startswith(prefix)]
    parquet = [f for f in inside if f.endswith(".parquet")]
    data = parquet or [f for f in inside if PurePosixPath(f).suffix.lower() in IMAGE_SUFFIXES]
    by_split: dict[str | None, list[str]]
    if patterns is not None:
        by_split = {s: [f for f in data if any(p.fullmatch(f) for p in ps)] for s, ps in patterns.items()}
    else:
        by_split = {}
        for f in data:
            by_split.setdefault(_split_of(f[len(prefix):], converted, bool(parquet)), []).append(f)
        if set(by_split) != {None}:
            by_split.pop(None, None)  # files outside the split conventions, when others follow them
        elif by_split:
            by_split = {"train": by_split[None]}
    splits = {s: sorted(fs) for s, fs in by_split.items() if fs and s is not None}
    return name, "parquet" if parquet else "images", splits


def _split_of(path: str, converted: bool, parquet: bool) -> str | None:
    """The split a data file belongs to by its path, or None."""
    parts = path.split("/")
    if converted and len(parts) == 2:  # {split}/0000.parquet, or partial-{split}/ for a large set
        return parts[0].removeprefix("partial-")
    if parquet:
        m = re.match(r"(.+?)-\d{5}-of-\d{5}", parts[-1])  # push_to_hub: {split}-00000-of-00003.parquet
        if m:
            return m.group(1)
    words = [d.lower() for d in parts[:-1]]
    if parquet:
        words += re.split(r"[-._ \d]+", parts[-1].lower())
    return next((_SPLIT_OF_WORD[w] for w in words if w in _SPLIT_OF_WORD), None)


def _glob(pattern: str) -> re.Pattern:
    """A Hub ``data_files`` pattern as a regular expression: ``*`` stays within a folder, ``**`` does not."""
    table = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(table.get(p, re.escape(p)) for p in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.lstrip("/"))))

