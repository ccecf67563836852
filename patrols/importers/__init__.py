"""Readers for patrol tracks (GPX, GeoJSON). See patrols.importers.tracks."""
