"""CAP areas → Loa communes: geocodes, polygons and circles against the registry.

The geometry is hand-written on purpose: a point-in-polygon test (ray casting) and a
great-circle distance (haversine) are a few lines each, and a district's communes are a few
dozen points, so a geometry library (shapely, GEOS) would buy nothing. Coordinates are
treated as planar within a polygon, which is exact enough at commune scale; polygons that
cross the antimeridian are not handled (Vietnam lies far from it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import pairwise

from config import Commune, Organisation
from content._cap import (
    GEOCODE_ADMIN_CODE,
    GEOCODE_COMMUNE,
    CapArea,
    CapCircle,
    Point,
    cap_error,
)

EARTH_RADIUS_KM = 6371.0088
"""The mean Earth radius (IUGG), for the haversine distance."""
_MIN_POLYGON_POINTS = 4


def parse_point(text: str, source: str, path: str) -> Point:
    """``lat,lon`` in degrees (WGS 84); both finite and in range."""
    parts = text.split(",")
    if len(parts) != 2:
        raise cap_error(source, path, "a point is 'latitude,longitude'", text)
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
    except ValueError:
        raise cap_error(source, path, "a coordinate is not a number", text) from None
    if not (math.isfinite(latitude) and -90.0 <= latitude <= 90.0):
        raise cap_error(source, path, "latitude outside -90..90", text)
    if not (math.isfinite(longitude) and -180.0 <= longitude <= 180.0):
        raise cap_error(source, path, "longitude outside -180..180", text)
    return latitude, longitude


def parse_polygon(text: str, source: str, path: str) -> tuple[Point, ...]:
    """``lat,lon lat,lon ...``: at least 4 points, the first equal to the last (CAP 1.2)."""
    points = tuple(parse_point(pair, source, path) for pair in text.split())
    if len(points) < _MIN_POLYGON_POINTS:
        raise cap_error(source, path, "a polygon needs at least 4 points", text)
    if points[0] != points[-1]:
        raise cap_error(source, path, "a polygon's last point must repeat its first", text)
    return points


def parse_circle(text: str, source: str, path: str) -> CapCircle:
    """``lat,lon radius``: the radius in kilometres, finite and not negative."""
    parts = text.split()
    if len(parts) != 2:
        raise cap_error(source, path, "a circle is 'latitude,longitude radius_km'", text)
    latitude, longitude = parse_point(parts[0], source, path)
    try:
        radius = float(parts[1])
    except ValueError:
        raise cap_error(source, path, "the radius is not a number", text) from None
    if not (math.isfinite(radius) and radius >= 0.0):
        raise cap_error(source, path, "the radius must be a finite number of km >= 0", text)
    return CapCircle(latitude, longitude, radius)


def point_in_polygon(point: Point, polygon: tuple[Point, ...]) -> bool:
    """Ray casting: count the edges a ray from ``point`` towards +longitude crosses."""
    latitude, longitude = point
    inside = False
    for (lat_a, lon_a), (lat_b, lon_b) in pairwise(polygon):
        if (lat_a > latitude) != (lat_b > latitude):
            crossing = lon_a + (latitude - lat_a) * (lon_b - lon_a) / (lat_b - lat_a)
            if longitude < crossing:
                inside = not inside
    return inside


def haversine_km(a: Point, b: Point) -> float:
    """The great-circle distance between two points, in kilometres."""
    lat_a, lon_a, lat_b, lon_b = map(math.radians, (*a, *b))
    h = (
        math.sin((lat_b - lat_a) / 2) ** 2
        + math.cos(lat_a) * math.cos(lat_b) * math.sin((lon_b - lon_a) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def in_circle(point: Point, circle: CapCircle) -> bool:
    return haversine_km(point, (circle.latitude, circle.longitude)) <= circle.radius_km


def area_communes(
    area: CapArea, organisation: Organisation, source: str, path: str
) -> tuple[str, ...]:
    """The sorted ids of the communes ``area`` covers; refused when it covers none.

    Geocodes ``commune`` (a Loa id) and ``vn-admin-code`` (``Commune.admin_code``) name
    communes outright and must be known; other geocodes are kept but match nothing.
    Polygons and circles match the communes whose ``centroid`` they contain.
    """
    found = set(_geocoded(area, organisation, source, path))
    found.update(commune.id for commune in _located(area, organisation.communes))
    if not found:
        raise cap_error(
            source,
            f"{path}/areaDesc",
            f"the area matches no commune of {organisation.district.name} "
            "(by geocode 'commune' or 'vn-admin-code', or by centroid)",
            area.description,
        )
    return tuple(sorted(found))


def _geocoded(area: CapArea, organisation: Organisation, source: str, path: str) -> Iterable[str]:
    ids = set(organisation.commune_ids())
    by_code: dict[str, list[str]] = {}
    for commune in organisation.communes:
        if commune.admin_code is not None:
            by_code.setdefault(commune.admin_code, []).append(commune.id)
    for index, (name, value) in enumerate(area.geocodes, start=1):
        where = f"{path}/geocode[{index}]/value"
        if name == GEOCODE_COMMUNE:
            if value not in ids:
                raise cap_error(source, where, "no commune of the district has this id", value)
            yield value
        elif name == GEOCODE_ADMIN_CODE:
            if value not in by_code:
                raise cap_error(
                    source, where, "no commune of the district has this admin code", value
                )
            yield from by_code[value]


def _located(area: CapArea, communes: Iterable[Commune]) -> Iterable[Commune]:
    for commune in communes:
        if commune.centroid is None:
            continue
        if any(point_in_polygon(commune.centroid, polygon) for polygon in area.polygons) or any(
            in_circle(commune.centroid, circle) for circle in area.circles
        ):
            yield commune
