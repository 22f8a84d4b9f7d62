"""nbgrader settings of the stylelib course (run nbgrader from this folder)."""

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "stylelib"

# A cell that runs longer than this is interrupted and marked wrong; the grader then goes on
# with the next cell, so one infinite loop costs one exercise, not the whole notebook.
# Lessons' heavy cells finish within it in quick mode (STYLELIB_QUICK=1, set when grading).
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
c.ExecutePreprocessor.raise_on_iopub_timeout = False

# Where release_assignment / fetch_assignment / submit / collect exchange files on a shared
# machine; override per command with --Exchange.root=/path (see the README's instructor guide).
c.Exchange.root = "/srv/nbgrader/exchange"
