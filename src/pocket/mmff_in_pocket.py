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
import math
import sys

from openbabel import openbabel as ob


def read(path, fmt):
    conv = ob.OBConversion()
    conv.SetInFormat(fmt)
    mol = ob.OBMol()
    if not conv.ReadFile(mol, path):
        raise ValueError(f"Open Babel could not read {path}")
    return mol


def _sub(a, b):
    return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a, b):
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _unit(a):
    n = math.sqrt(_dot(a, a))
    return [a[0] / n, a[1] / n, a[2] / n]


def _perp(v, axis):
    """The part of v perpendicular to the unit vector axis."""
    d = _dot(v, axis)
    return [v[0] - d * axis[0], v[1] - d * axis[1], v[2] - d * axis[2]]


def _rotate(v, axis, angle):
    """v rotated by angle (radians) about the unit vector axis (Rodrigues' formula)."""
    c, s = math.cos(angle), math.sin(angle)
    k = _cross(axis, v)
    d = _dot(axis, v) * (1 - c)
    return [v[i] * c + k[i] * s + axis[i] * d for i in range(3)]


def _pos(atom):
    return [atom.GetX(), atom.GetY(), atom.GetZ()]


def _lab_reference(axis):
    """The lab axis least parallel to axis: a fixed reference when the structure offers none."""
    return min(([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]), key=lambda e: abs(_dot(e, axis)))


# unit directions of a tetrahedron, a triangle and a line: hydrogens on an atom with no heavy neighbour
_IDEAL = {
    3: [[1 / math.sqrt(3)] * 3, [1 / math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3)],
        [-1 / math.sqrt(3), 1 / math.sqrt(3), -1 / math.sqrt(3)], [-1 / math.sqrt(3), -1 / math.sqrt(3), 1 / math.sqrt(3)]],
    2: [[1.0, 0.0, 0.0], [-0.5, math.sqrt(3) / 2, 0.0], [-0.5, -math.sqrt(3) / 2, 0.0]],
    1: [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]],
}


def _away_from(centre, heavy):
    """Unit direction opposite the bonds to `heavy` (or their plane's normal when they cancel)."""
    bonds = [_unit(_sub(_pos(n), centre)) for n in heavy]
    total = [-sum(b[i] for b in bonds) for i in range(3)]
    if _dot(total, total) > 1e-2:
        return _unit(total)
    return _unit(_cross(bonds[0], bonds[1]))


def _place(h, centre, v):
    h.SetVector(centre[0] + v[0], centre[1] + v[1], centre[2] + v[2])


def fix_added_hydrogens(mol, given):
    """Put the hydrogens Open Babel added on free rotors at fixed torsions.

    AddHydrogens points a group it adds (OH, NH3+, CH3, and atoms with no heavy neighbour) along
    a direction seeded by the clock, and orders the group's hydrogens either way round, so the
    pocket's MMFF94 energies changed between runs of one seed. Each such group (hydrogens whose
    rounded positions are not in `given`, the input's own) is rebuilt with Open Babel's bond
    length and bond angle:
    - one heavy neighbour B: the first hydrogen anti (180 degrees) to B's lowest-index other heavy
      neighbour (or to a lab axis), the others at steps of 120 (sp3) or 180 (sp2) degrees about
      the B-A bond, in index order;
    - no heavy neighbour: along ideal tetrahedral, trigonal or linear directions in the lab frame;
    - two or more heavy neighbours and one hydrogen: opposite the sum of the bond directions, or
      along the normal of the first two bonds when they cancel (a planar atom such as nitrate N);
      two hydrogens there (sp3 CH2) are left as placed: their geometry fixes them.
    """
    groups = {}
    for h in ob.OBMolAtomIter(mol):
        if h.GetAtomicNum() == 1 and h.GetExplicitDegree() == 1 and _key(h) not in given:
            groups.setdefault(next(ob.OBAtomAtomIter(h)).GetIdx(), []).append(h)
    for idx in sorted(groups):
        a = mol.GetAtom(idx)
        hs = sorted(groups[idx], key=lambda h: h.GetIdx())
        heavy = sorted((n for n in ob.OBAtomAtomIter(a) if n.GetAtomicNum() != 1), key=lambda n: n.GetIdx())
        centre = _pos(a)
        first = _sub(_pos(hs[0]), centre)
        length = math.sqrt(_dot(first, first))
        if length < 1e-6 or (len(heavy) >= 2 and len(hs) > 1):
            continue
        if len(heavy) >= 2:
            _place(hs[0], centre, [length * x for x in _away_from(centre, heavy)])
            continue
        if not heavy:
            ideal = _IDEAL.get(a.GetHyb(), _IDEAL[3])
            for h, d in zip(hs, ideal):
                _place(h, centre, [length * x for x in d])
            continue
        b = heavy[0]
        axis = _unit(_sub(centre, _pos(b)))
        along = _dot(first, axis)
        others = sorted((n for n in ob.OBAtomAtomIter(b) if n.GetAtomicNum() != 1 and n.GetIdx() != idx), key=lambda n: n.GetIdx())
        ref = _perp(_sub(_pos(others[0]), _pos(b)), axis) if others else [0.0, 0.0, 0.0]
        if _dot(ref, ref) < 1e-12:
            ref = _perp(_lab_reference(axis), axis)
        radial = math.sqrt(max(length * length - along * along, 0.0))
        start = [-x * radial for x in _unit(ref)]
        step = 2 * math.pi / 3 if a.GetHyb() == 3 else math.pi
        for j, h in enumerate(hs):
            r = _rotate(start, axis, j * step)
            _place(h, centre, [r[i] + along * axis[i] for i in range(3)])


def _key(atom):
    return tuple(round(x, 3) for x in _pos(atom))


def protonated_pocket(pocket_path):
    """The pocket's residues with hydrogens at pH 7.4 (as docking preparations do), rotors fixed."""
    pocket = read(pocket_path, "pdb")
    # the pH model removes and re-adds hydrogens (indices shift): the input's own are known by position
    given = {_key(a) for a in ob.OBMolAtomIter(pocket) if a.GetAtomicNum() == 1}
    pocket.AddHydrogens(False, True, 7.4)
    fix_added_hydrogens(pocket, given)
    return pocket


def relax(pocket_path, lig_path, steps):
    pocket = protonated_pocket(pocket_path)
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
