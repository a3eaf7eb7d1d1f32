"""The fixed concept ids ETL-Synthea assigns without a vocabulary look-up, and Synthea's code-system names."""

EHR = 32817
GENDER = {"M": 8507, "F": 8532}
RACE = {"white": 8527, "black": 8516, "asian": 8515, "native": 8657, "hawaiian": 8557}
ETHNICITY = {"hispanic": 38003563, "nonhispanic": 38003564}
VISIT = {
    "ambulatory": 9202,
    "outpatient": 9202,
    "wellness": 9202,
    "emergency": 9203,
    "urgentcare": 9203,
    "inpatient": 9201,
}
SYSTEM_VOCAB = {"SNOMED-CT": "SNOMED", "SNOMED": "SNOMED", "RxNorm": "RxNorm", "LOINC": "LOINC", "CVX": "CVX"}
