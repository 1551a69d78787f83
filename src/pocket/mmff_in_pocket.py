"""MMFF94 relaxation of a ligand inside a fixed pocket, with Open Babel's force field.

Called by src/pocket/vina.ts (one process per ligand set). Open Babel's command-line
`obminimize` cannot hold atoms fixed, so this goes through its Python bindings (Debian package
python3-openbabel): the pocket residues and the ligand become one molecule, every pocket atom
gets a fixed-atom constraint, and conjugate gradients move the ligand only (Halgren 1996, MMFF94;
O'Boyle et al. 2011, Open Babel).

Usage: python3 mmff_in_pocket.py STEPS POCKET1.pdb LIGAND1.sdf [POCKET2.pdb LIGAND2.sdf ...]
Each ligand comes with its own pocket file (the caller cuts the residues near that ligand, which
keeps the fixed part small: Open Babel evaluates every pair, fixed ones included). Prints one
JSON object per ligand, in order, on its own line:
  {"ok": true, "e_before": kcal/mol, "e_after": kcal/mol, "positions": [x0, y0, z0, ...]}
  {"ok": false, "error": "why"}
Energies are the whole system's MMFF94 energy; with the pocket fixed their difference is the
change of the ligand's own energy plus its interaction with the pocket. Positions are the
ligand's atoms in the input order (hydrogens are added only to a ligand that has none, after
its own atoms).
"""
import json
import sys

from openbabel import openbabel as ob


def read(path, fmt):
    conv = ob.OBConversion()
    conv.SetInFormat(fmt)
    mol = ob.OBMol()
    if not conv.ReadFile(mol, path):
        raise ValueError(f"Open Babel could not read {path}")
    return mol


def relax(pocket_path, lig_path, steps):
    pocket = read(pocket_path, "pdb")
    # protonation of the pocket at pH 7.4, as docking preparations do
    pocket.AddHydrogens(False, True, 7.4)
    lig = read(lig_path, "sdf")
    n_lig = lig.NumAtoms()
    if not any(a.GetAtomicNum() == 1 for a in ob.OBMolAtomIter(lig)):
        lig.AddHydrogens(False, False)
    system = ob.OBMol(pocket)
    n_pocket = system.NumAtoms()
    system += lig
    constraints = ob.OBFFConstraints()
    for i in range(1, n_pocket + 1):
        constraints.AddAtomConstraint(i)
    ff = ob.OBForceField.FindForceField("MMFF94")
    if ff is None or not ff.Setup(system, constraints):
        return {"ok": False, "error": "MMFF94 could not type this ligand"}
    e_before = ff.Energy(False)
    ff.ConjugateGradients(steps)
    e_after = ff.Energy(False)
    ff.GetCoordinates(system)
    pos = []
    for k in range(n_lig):
        a = system.GetAtom(n_pocket + 1 + k)
        pos += [a.GetX(), a.GetY(), a.GetZ()]
    return {"ok": True, "e_before": e_before, "e_after": e_after, "unit": ff.GetUnit(), "positions": pos}


def main():
    steps, files = int(sys.argv[1]), sys.argv[2:]
    ob.obErrorLog.SetOutputLevel(0)
    for k in range(0, len(files) - 1, 2):
        try:
            out = relax(files[k], files[k + 1], steps)
        except Exception as e:  # a failed ligand must not stop the others
            out = {"ok": False, "error": str(e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
