"""Text columns as TF-IDF features, fitted on the training split and saved as JSON.

scikit-learn's ``TfidfVectorizer`` does the fitting, on a vocabulary chosen here (the
``max_features`` most frequent terms, ties alphabetically) so that it does not depend on the
NumPy sort that scikit-learn's own ``max_features`` cut uses. Its fitted state (vocabulary and idf
weights) is saved as plain JSON with the model, never pickled, and applied again with a
``CountVectorizer`` on that fixed vocabulary followed by the same idf weighting and l2
normalisation, which is what ``TfidfVectorizer.transform`` computes (a test holds the two
equal). The JSON also survives scikit-learn upgrades that a pickle would not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from steps.errors import InputError

DEFAULT_MAX_FEATURES = 1000
#: Vectorizer settings shared by fitting and applying; part of the saved state.
SETTINGS: dict[str, Any] = {
    "lowercase": True,
    "token_pattern": r"(?u)\b[^\W\d_][^\W\d_]+\b",  # words of two or more letters
    "stop_words": "english",
    "ngram_range": [1, 2],
    "min_df": 2,
    "sublinear_tf": True,
}


def _clean(values: pd.Series) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def fit_text_features(
    frame: pd.DataFrame, columns: list[str], max_features: int = DEFAULT_MAX_FEATURES
) -> dict[str, Any]:
    """Fit one TF-IDF per text column on ``frame`` (the training rows); return its JSON state."""
    state: dict[str, Any] = {"settings": dict(SETTINGS), "columns": {}}
    for column in columns:
        texts = _clean(frame[column])
        counter = _counter()
        try:
            counts = counter.fit_transform(texts)
        except ValueError:
            raise InputError(
                f"text column '{column}' has no word in two or more training rows: it holds no "
                "usable text; drop it or declare it categorical"
            ) from None
        terms = counter.get_feature_names_out()
        if terms.size > max_features:
            # scikit-learn's max_features keeps the most frequent terms with an unstable argsort,
            # so terms tied at the cut-off depend on NumPy's sort (its version and the CPU's
            # SIMD). Keep the most frequent, ties alphabetically, and refit on that vocabulary.
            frequency = np.asarray(counts.sum(axis=0)).ravel()
            terms = np.sort(terms[np.lexsort((terms, -frequency))[:max_features]])
        vectorizer = _tfidf(terms.tolist()).fit(texts)
        state["columns"][column] = {
            "terms": terms.tolist(),
            "idf": [float(x) for x in vectorizer.idf_],
        }
    return state


#: Rows :func:`check_text_column` reads: a column with no word shared by two of them holds no
#: usable text, and the check stays cheap on any file.
CHECK_ROWS = 100_000


def check_text_column(values: pd.Series, column: str) -> None:
    """Refuse, before any job runs, a text column in which no word occurs in two rows: TF-IDF
    keeps only such words (``min_df`` 2), so training would find no feature in it."""
    from sklearn.feature_extraction.text import CountVectorizer

    counter = CountVectorizer(
        lowercase=SETTINGS["lowercase"],
        token_pattern=SETTINGS["token_pattern"],
        stop_words=SETTINGS["stop_words"],
        min_df=SETTINGS["min_df"],
        max_features=1,
        binary=True,
    )
    try:
        counter.fit(_clean(values.iloc[:CHECK_ROWS]))
    except ValueError:
        raise InputError(
            f"text column '{column}' has no word in two or more rows: it holds no usable text; "
            "drop it or declare it categorical"
        ) from None


def _counter() -> Any:
    """Raw term counts with SETTINGS: the vocabulary and frequencies to choose terms from."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(**_tokens(), min_df=SETTINGS["min_df"])


def _tfidf(vocabulary: list[str]) -> Any:
    """TF-IDF with SETTINGS on a chosen vocabulary: its idf weights are the fitted state."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        **_tokens(), sublinear_tf=SETTINGS["sublinear_tf"], vocabulary=vocabulary
    )


def _tokens() -> dict[str, Any]:
    """How both vectorizers split text into terms: the same SETTINGS, so the same terms."""
    return {
        "lowercase": SETTINGS["lowercase"],
        "token_pattern": SETTINGS["token_pattern"],
        "stop_words": SETTINGS["stop_words"],
        "ngram_range": tuple(SETTINGS["ngram_range"]),
    }


def text_feature_names(state: dict[str, Any]) -> list[str]:
    """Feature names for the TF-IDF columns: ``<column>#<term index>`` (terms can be any
    text; an index keeps the name short and unique)."""
    return [
        f"{column}#{index}"
        for column, fitted in state["columns"].items()
        for index in range(len(fitted["terms"]))
    ]


def transform_text(frame: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
    """TF-IDF features of ``frame``'s text columns with the saved vocabulary and weights."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    settings = state["settings"]
    blocks = []
    for column, fitted in state["columns"].items():
        if column not in frame.columns:
            raise InputError(
                f"the data lacks the text column '{column}' the model was trained on: give data "
                "with the same columns"
            )
        counter = CountVectorizer(
            lowercase=settings["lowercase"],
            token_pattern=settings["token_pattern"],
            stop_words=settings["stop_words"],
            ngram_range=tuple(settings["ngram_range"]),
            vocabulary={term: i for i, term in enumerate(fitted["terms"])},
        )
        counts = counter.transform(_clean(frame[column])).astype(np.float64)
        if settings["sublinear_tf"]:
            counts.data = np.log(counts.data) + 1.0
        weighted = counts.multiply(np.asarray(fitted["idf"])).tocsr()
        blocks.append(normalize(weighted, norm="l2").toarray().astype(np.float32))
    names = text_feature_names(state)
    values = np.hstack(blocks) if blocks else np.empty((len(frame), 0), dtype=np.float32)
    return pd.DataFrame(values, columns=names, index=frame.index)
