"""What the integrity checks measure, without writing anything: a photo's fingerprint (its bytes'
hash, a perceptual hash that survives resizing and re-encoding, the camera's GPS), where a point
lies against a county's boundary, and how far apart two points are. The flags are written by
acceptance/services/integrity.py."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from PIL import Image, ImageOps, ImageStat

# The map's county boundaries (the dashboard draws them): simplified, and in the map's datum.
COUNTIES_GEOJSON = Path(settings.BASE_DIR) / "static" / "geo" / "xinzhou-counties.geojson"
# Units without a polygon of their own lie inside others: 忻州城区 is 忻府区's 街道, and
# 五台山风景名胜区 spans 五台县 and 繁峙县.
INSIDE = {"忻州城区": ("忻府区",), "五台山": ("五台县", "繁峙县")}
# A point is outside only when it is this far beyond the line: the polygons are simplified (a few
# hundred points a county), Chinese map data may be shifted by some 500 m from a phone's GPS
# (GCJ-02 against WGS-84), and a phone's fix may be off by hundreds of metres in a village.
BORDER_TOLERANCE_KM = 2.0

# Near copies: two perceptual hashes (64 bits) at most this many bits apart are one photo. A copy
# resized to half and saved again at a lower quality differs by 0–2 bits; different scenes by 20
# or more. The hash is kept in five bands (13, 13, 13, 13 and 12 bits): two hashes this close
# agree on at least one band (pigeonhole), so candidates are found through the bands' indexes.
PHASH_MAX_DISTANCE = 4
BAND_BITS = (13, 13, 13, 13, 12)
# A picture with almost no contrast (a covered lens, a blank wall) hashes alike whatever it shows:
# its perceptual hash is not compared (its bytes still are).
FLAT_STDDEV = 4.0

# Faster than this between two visits of one inspector, the second could not have been made
# there; SLACK_KM forgives the GPS's error and neighbours visited in the same minutes.
MAX_SPEED_KMH = 120
SLACK_KM = 2.0


@dataclass(frozen=True)
class PhotoPrint:
    sha256: str
    phash: str  # 16 hex digits; "" for a featureless picture
    location: tuple[Decimal, Decimal] | None  # the camera's GPS

    @property
    def bands(self) -> list[int | None]:
        return phash_bands(self.phash)


def print_fields(fingerprint: PhotoPrint) -> dict[str, Any]:
    """The fields of an InspectionPhoto that its fingerprint fills."""
    location = fingerprint.location
    return {
        "sha256": fingerprint.sha256,
        "phash": fingerprint.phash,
        **{f"phash_band_{i}": band for i, band in enumerate(fingerprint.bands)},
        "latitude": location[0] if location else None,
        "longitude": location[1] if location else None,
    }


def phash_bands(phash: str) -> list[int | None]:
    if not phash:
        return [None] * len(BAND_BITS)
    bands: list[int | None] = []
    value, shift = int(phash, 16), 64
    for bits in BAND_BITS:
        shift -= bits
        bands.append((value >> shift) & ((1 << bits) - 1))
    return bands


def phash_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def photo_print(file: IO[bytes]) -> PhotoPrint:
    """The fingerprint of a photo already checked to be an image (the file is left at its start).
    A picture that verifies but will not decode whole (a truncated JPEG a browser still shows) is
    kept with its bytes' hash alone."""
    import imagehash  # with numpy: imported where a photo is hashed, not at every start-up

    file.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: file.read(1 << 16), b""):
        digest.update(chunk)
    file.seek(0)
    location, phash = None, ""
    try:
        with Image.open(file) as image:
            location = exif_location(image)
            # A JPEG decodes at a fraction of its size at once: the hash looks at 32×32 pixels.
            image.draft("RGB", (256, 256))
            # As it is seen: a copy saved upright from a phone's rotated original is the same.
            upright = ImageOps.exif_transpose(image).convert("L")
            flat = ImageStat.Stat(upright.resize((32, 32))).stddev[0] < FLAT_STDDEV
            phash = "" if flat else str(imagehash.phash(upright))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        phash = ""
    finally:
        file.seek(0)
    return PhotoPrint(sha256=digest.hexdigest(), phash=phash, location=location)


def exif_location(image: Image.Image) -> tuple[Decimal, Decimal] | None:
    """The camera's GPS position from the EXIF GPS IFD, when it has one that makes sense."""
    try:
        gps = image.getexif().get_ifd(0x8825)
    except (AttributeError, KeyError, ValueError, TypeError, OSError):
        return None
    try:
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return (Decimal(f"{lat:.6f}"), Decimal(f"{lon:.6f}"))


def _degrees(dms: Any, ref: Any, negative: str) -> float:
    degrees, minutes, seconds = (float(part) for part in dms)
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if str(ref).strip().upper() == negative else value


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


# Kilometres on a plane around Xinzhou (38.7° N): near enough for a distance to a border.
_KM_PER_DEGREE_LAT = 110.57
_KM_PER_DEGREE_LON = 111.32 * math.cos(math.radians(38.7))


def _to_km(coordinates: Any) -> Any:
    """(longitude, latitude) pairs, an array of them, as kilometres."""
    return coordinates * (_KM_PER_DEGREE_LON, _KM_PER_DEGREE_LAT)


@dataclass(frozen=True)
class CountyShape:
    area: Any  # a shapely geometry, in km, prepared for many points

    def km_outside(self, latitude: float, longitude: float) -> float:
        """0 inside, else how far the point lies beyond the boundary."""
        import shapely  # (loaded already by county_shapes())

        point = shapely.Point(longitude * _KM_PER_DEGREE_LON, latitude * _KM_PER_DEGREE_LAT)
        if self.area.contains(point):
            return 0.0
        return float(self.area.distance(point))


@functools.cache
def county_shapes() -> dict[str, CountyShape]:
    """The counties' polygons by short name, read once per process."""
    # shapely only where a visit's place is checked: imported with this module, it cost every
    # process a tenth of a second at start-up, a command's too.
    import shapely.geometry

    data = json.loads(COUNTIES_GEOJSON.read_text(encoding="utf-8"))
    polygons = {
        feature["properties"]["name"]: shapely.transform(
            shapely.geometry.shape(feature["geometry"]), _to_km
        )
        for feature in data["features"]
    }
    for unit, parts in INSIDE.items():
        if all(part in polygons for part in parts):
            polygons[unit] = shapely.union_all([polygons[part] for part in parts])
    for area in polygons.values():
        shapely.prepare(area)
    return {name: CountyShape(area) for name, area in polygons.items()}
