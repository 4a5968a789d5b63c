"""clinic-budget: a small clinic's intake workbook in, a custom-EHR budget out.

The pipeline, one module per stage:

    workbook.py  (open the file safely, read raw cells)
    fields.py    (parse one cell: numbers, yes/no, percentages, dates, choices)
    intake.py    (sheets -> validated, frozen Scenarios; every problem collected)
    ratecard.py  (every figure of the guide, with its source)
    planner.py   (Scenario -> ScenarioPlan: components, phases, labour, run costs, TCO)
    risk.py      (Monte Carlo ranges, sensitivity, switching values)
    render.py    (Jinja templates -> Markdown -> HTML, PDF)
    writers/     (one writer per output format)
    batch.py, watch.py, cli.py
"""

__version__ = "0.1.0"
