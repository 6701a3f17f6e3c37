"""GTEx sample tables: the file and DataFrame paths check the same values (sweep N)."""

from __future__ import annotations

import logging
import re

import pandas as pd
import pytest

from gex_impute import io
from gex_impute._data_keys import registered_keys
from gex_impute.errors import InputFileError

SAMPLES = ["GTEX-1117F-0226-SM-5GZZ7", "GTEX-1117F-0426-SM-5EGHI", "GTEX-111CU-0226-SM-5GZXO"]
ATTRS = pd.DataFrame(
    {
        "SAMPID": SAMPLES,
        "SMTS": ["Adipose Tissue", "Lung", "Lung"],
        "SMTSD": ["Adipose - Subcutaneous", "Lung", "Lung"],
    }
)
PHENO = pd.DataFrame({"SUBJID": ["GTEX-1117F", "GTEX-111CU"], "SEX": [2, 1], "AGE": ["60-69", "50-59"]})


def _gct(tmp_path, samples=SAMPLES):
    rows = [f"G{g}\tS{g}\t" + "\t".join(str(g + k) for k in range(len(samples))) for g in range(3)]
    text = "\n".join(["#1.2", f"3\t{len(samples)}", "\t".join(["Name", "Description", *samples]), *rows])
    path = tmp_path / "x.gct"
    path.write_text(text + "\n")
    return path


def _tsv(tmp_path, table: pd.DataFrame, name: str):
    path = tmp_path / name
    path.write_text(table.to_csv(sep="\t", index=False))
    return path


# --- SEX spellings, unknown codes, duplicated ids ------------------------------------------------


@pytest.mark.parametrize(
    "sex", [["female", "male"], ["Female", "MALE"], ["F", "M"], ["f", "m"], [2, 1], ["2", "1"], [2.0, 1.0]]
)
@pytest.mark.parametrize("as_file", [False, True])
def test_sex_spellings_accepted(tmp_path, sex, as_file):
    pheno = PHENO.assign(SEX=sex)
    before = pheno.copy()
    source = _tsv(tmp_path, pheno, "p.txt") if as_file else pheno
    adata = io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=source)
    assert adata.obs["sex"].astype(str).tolist() == ["female", "female", "male"]
    pd.testing.assert_frame_equal(pheno, before)  # the input is not modified


@pytest.mark.parametrize("as_file", [False, True])
def test_unknown_sex_code_refused(tmp_path, as_file):
    pheno = PHENO.assign(SEX=[3, 9])
    source = _tsv(tmp_path, pheno, "p.txt") if as_file else pheno
    accepted = r"SEX '?3'? is not 1 \(male\) or 2 \(female\), male/female or M/F"
    with pytest.raises(InputFileError, match=accepted) as info:
        io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=source)
    assert "9" in str(info.value) and "Recode" in str(info.value)
    if as_file:
        assert "line 2" in str(info.value)
    else:
        assert "SUBJID 'GTEX-1117F'" in str(info.value)


def test_all_sex_codes_from_dataframe_never_silently_nan(tmp_path):
    with pytest.raises(InputFileError, match="unknown SEX"):
        io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=PHENO.assign(SEX="unknown"))


@pytest.mark.parametrize("as_file", [False, True])
def test_duplicated_subjid_refused(tmp_path, as_file):
    pheno = pd.concat([PHENO, PHENO.iloc[[1]].assign(SEX=2)])
    source = _tsv(tmp_path, pheno, "p.txt") if as_file else pheno
    with pytest.raises(InputFileError, match=r"SUBJID values .*more than once .*GTEX-111CU") as info:
        io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=source)
    assert "duplicate" in str(info.value)


@pytest.mark.parametrize("as_file", [False, True])
def test_duplicated_sampid_refused(tmp_path, as_file):
    attrs = pd.concat([ATTRS, ATTRS.iloc[[0]].assign(SMTSD="Liver")])
    source = _tsv(tmp_path, attrs, "a.txt") if as_file else attrs
    with pytest.raises(InputFileError, match=rf"SAMPID values .*more than once .*{SAMPLES[0]}") as info:
        io.read_gct(_gct(tmp_path), source)
    assert "duplicate" in str(info.value)


def test_duplicated_sampid_in_index_refused(tmp_path):
    attrs = pd.concat([ATTRS, ATTRS.iloc[[0]]]).set_index("SAMPID")
    with pytest.raises(InputFileError, match=re.escape("drop_duplicates('SAMPID')")):
        io.read_gct(_gct(tmp_path), attrs)


# --- AGE: ten-year bands (public table) or whole years (dbGaP) -----------------------------------

DBGAP = (
    "# Study accession: phs000424.v8.p2\n# Table accession: pht002742.v8.p2.c1\n\n"
    "dbGaP_Subject_ID\tSUBJID\tCOHORT\tSEX\tAGE\tRACE\tDTHHRDY\n"
    "100000\tGTEX-1117F\tPostmortem\t2\t28\t3\t\n"
    "100001\tGTEX-111CU\tPostmortem\t1\t66\t3\t0.0\n"
)


def test_dbgap_ages_in_years_read_as_numbers(tmp_path):
    path = tmp_path / "phs000424.v8.pht002742.v8.p2.c1.GTEx_Subject_Phenotypes.GRU.txt"
    path.write_text(DBGAP)
    pheno = io.read_subject_phenotypes(path)
    assert pheno["AGE"].tolist() == [28, 66] and pd.api.types.is_numeric_dtype(pheno["AGE"])
    adata = io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=path)
    assert adata.obs["age"].tolist() == [28, 28, 66]
    assert pd.api.types.is_numeric_dtype(adata.obs["age"])


@pytest.mark.parametrize("as_file", [False, True])
def test_ages_in_years_from_either_source(tmp_path, as_file):
    pheno = PHENO.assign(AGE=[28, None])
    source = _tsv(tmp_path, pheno, "p.txt") if as_file else pheno
    adata = io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=source)
    assert adata.obs["age"].tolist()[:2] == [28, 28] and pd.isna(adata.obs["age"].iloc[2])


@pytest.mark.parametrize("as_file", [False, True])
def test_age_bands_stay_categories(tmp_path, as_file):
    source = _tsv(tmp_path, PHENO, "p.txt") if as_file else PHENO
    adata = io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=source)
    assert isinstance(adata.obs["age"].dtype, pd.CategoricalDtype)
    assert adata.obs["age"].astype(str).tolist() == ["60-69", "60-69", "50-59"]


@pytest.mark.parametrize("age", [["sixty", "50-59"], [28.5, 40], ["-3", "40"]])
@pytest.mark.parametrize("as_file", [False, True])
def test_other_ages_refused_naming_both_forms(tmp_path, age, as_file):
    pheno = PHENO.assign(AGE=age)
    source = _tsv(tmp_path, pheno, "p.txt") if as_file else pheno
    with pytest.raises(InputFileError, match=r"AGE .* is neither a ten-year band such as '60-69'") as info:
        io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=source)
    assert "whole number of years" in str(info.value)


def test_ages_mixing_bands_and_years_refused(tmp_path):
    with pytest.raises(InputFileError, match="use one form throughout"):
        io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=PHENO.assign(AGE=["60-69", 52]))


# --- tissue names: surrounding white space is not another tissue ---------------------------------


@pytest.mark.parametrize("as_file", [False, True])
def test_tissue_names_stripped(tmp_path, as_file):
    attrs = ATTRS.assign(
        SMTSD=["Adipose - Subcutaneous", "Lung ", " Lung"], SMTS=[" Adipose Tissue", "Lung", "Lung "]
    )
    before = attrs.copy()
    source = _tsv(tmp_path, attrs, "a.txt") if as_file else attrs
    adata = io.read_gct(_gct(tmp_path), source)
    assert list(adata.obs["tissue"].cat.categories) == ["Adipose - Subcutaneous", "Lung"]
    assert list(adata.obs["tissue_group"].cat.categories) == ["Adipose Tissue", "Lung"]
    pd.testing.assert_frame_equal(attrs, before)  # the input is not modified
    if as_file:
        assert io.read_sample_attributes(source)["SMTSD"].tolist() == [
            "Adipose - Subcutaneous",
            "Lung",
            "Lung",
        ]


def test_blank_tissue_name_is_empty(tmp_path):
    with pytest.raises(InputFileError, match="empty SMTSD"):
        io.read_gct(_gct(tmp_path), ATTRS.assign(SMTSD=["Lung", "  ", "Lung"]))


# --- GTEx's K-562 cell line: not a donor's tissue -------------------------------------------------

K562 = "K-562-SM-26GMQ"
CML = "Cells - Leukemia cell line (CML)"


@pytest.mark.parametrize("with_phenotypes", [False, True])
def test_cell_line_samples_kept_with_a_warning(tmp_path, caplog, with_phenotypes):
    attrs = pd.concat([ATTRS, pd.DataFrame({"SAMPID": [K562], "SMTS": ["Bone Marrow"], "SMTSD": [CML]})])
    pheno = PHENO if with_phenotypes else None
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        adata = io.read_gct(_gct(tmp_path, [*SAMPLES, K562]), attrs, subject_phenotypes=pheno)
    assert adata.obs["donor"].tolist() == ["GTEX-1117F", "GTEX-1117F", "GTEX-111CU", "K-562"]
    assert adata.obs.loc[K562, "tissue"] == CML
    warnings = [r.getMessage() for r in caplog.records if "cell line" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("1 samples are of the K-562 cell line")
    assert "adata = adata[adata.obs['donor'] != 'K-562'].copy()" in warnings[0]
    if with_phenotypes:
        assert adata.obs["sex"].astype(str).tolist()[:3] == ["female", "female", "male"]
        assert pd.isna(adata.obs.loc[K562, "sex"]) and pd.isna(adata.obs.loc[K562, "age"])
        assert "no sex or age" in warnings[0]
    assert registered_keys(adata)["donor_key"] == "donor"  # still registered
    dropped = adata[adata.obs["donor"] != "K-562"].copy()
    assert dropped.n_obs == 3


def test_unknown_donor_still_refused(tmp_path):
    with pytest.raises(InputFileError, match="donors are not in the subject-phenotypes table"):
        io.read_gct(_gct(tmp_path), ATTRS, subject_phenotypes=PHENO.iloc[:1])


# --- another kind of file given as a sample table -------------------------------------------------

GTF = (
    "##description: evidence-based annotation of the human genome (GRCh38), version 26\n"
    "##provider: GENCODE\n##format: gtf\n"
    'chr1\tHAVANA\tgene\t11869\t14409\t.\t+\t.\tgene_id "ENSG00000223972.5"; gene_name "DDX11L1";\n'
)


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("gencode.v26.GRCh38.genes.gtf", GTF, "a GTF/GFF gene annotation"),
        ("annotation.txt", GTF, "a GTF/GFF gene annotation"),  # by content
        ("annotation.txt", GTF.split("##format: gtf\n")[1], "a GTF/GFF gene annotation"),  # no comments
        ("genes.gff3", "##gff-version 3\nchr1\t.\tgene\t1\t9\t.\t+\t.\tID=g1\n", "a GTF/GFF gene annotation"),
        ("expr.txt", "#1.2\n1\t1\nName\tDescription\tGTEX-1-1\nG\tS\t1\n", "a GCT expression matrix"),
        ("genome.txt", ">chr1\nACGT\n", "a FASTA genome"),
    ],
)
def test_other_file_as_sample_attributes_named(tmp_path, name, text, kind):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(
        InputFileError, match=f"looks like {kind}, not a GTEx sample-attributes table"
    ) as info:
        io.read_gct(_gct(tmp_path), path)
    message = str(info.value)
    assert "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt" in message
    assert "SAMPID and SMTSD" in message and "comments" not in message
    with pytest.raises(InputFileError, match="SubjectPhenotypesDS.txt .*SUBJID, SEX and AGE"):
        io.read_subject_phenotypes(path)


def test_tables_with_comments_still_read(tmp_path):
    path = tmp_path / "attrs.txt"
    path.write_text("# dbGaP header\n\n" + ATTRS.to_csv(sep="\t", index=False))
    assert io.read_sample_attributes(path).index.tolist() == SAMPLES
