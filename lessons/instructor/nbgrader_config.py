"""nbgrader settings of the stylelib course (run nbgrader from this folder)."""

import copy

from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat.v4 import new_output
from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import Execute

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "stylelib"

# A cell that runs longer than this is interrupted and marked wrong; the grader then goes on
# with the next cell, so one infinite loop costs one exercise, not the whole notebook.
# Lessons' heavy cells finish within it in quick mode (STYLELIB_QUICK=1, set when grading).
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
c.ExecutePreprocessor.raise_on_iopub_timeout = False


class SurviveKernelDeath(Execute):
    """nbgrader's Execute, except that a cell which kills the kernel (``os._exit``, a crash,
    memory) costs only its own exercise: the cell is marked with an error, the kernel is
    restarted, the code cells above it run again (quietly, their outputs kept), and grading
    goes on with the next cell. nbgrader itself would stop there, and every exercise of the
    notebook, those already passed included, would score 0."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        try:
            return await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )
        except DeadKernelError:
            self.killers = getattr(self, "killers", set()) | {cell_index}
            cell.outputs.append(
                new_output(
                    "error",
                    ename="DeadKernelError",
                    evalue="the kernel died running this cell; it was restarted and the cells "
                    "above were run again without it",
                    traceback=["DeadKernelError: the kernel died running this cell"],
                )
            )
            await self._restart(cell_index)
            return cell

    execute_cell = run_sync(async_execute_cell)  # what nbconvert calls, cell by cell

    async def _restart(self, cell_index):
        await ensure_async(self.kc.stop_channels())
        await ensure_async(self.km.restart_kernel(now=True))
        await self.async_start_new_kernel_client()
        for index, earlier in enumerate(self.nb.cells[:cell_index]):
            if earlier.cell_type == "code" and index not in self.killers:
                await self.async_execute_cell(copy.deepcopy(earlier), index, store_history=False)


c.Autograde.autograde_preprocessors = [
    SurviveKernelDeath if p is Execute else p
    for p in Autograde.class_traits()["autograde_preprocessors"].default()
]

# Where release_assignment / fetch_assignment / submit / collect exchange files on a shared
# machine; override per command with --Exchange.root=/path (see the README's instructor guide).
c.Exchange.root = "/srv/nbgrader/exchange"
