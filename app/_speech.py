"""Composition: the district's text-to-speech, built from its settings and registry."""

from __future__ import annotations

from config import Settings
from pipeline.tts import EngineDirs, SynthesisCache, TextToSpeech

_MB = 1_000_000


def text_to_speech(settings: Settings) -> TextToSpeech:
    """The chains, cache and lexicon of ``settings``; engines start when first used."""
    organisation = settings.organisation
    languages = set(organisation.district.languages)
    languages.update(
        language for commune in organisation.communes for language in commune.languages
    )
    return TextToSpeech(
        settings.tts,
        cache=SynthesisCache(settings.tts_cache_dir, settings.tts.cache_max_mb * _MB),
        dirs=EngineDirs(phrasebank=settings.phrasebank_dir, state=settings.tts_cache_dir),
        languages=languages,
    )
