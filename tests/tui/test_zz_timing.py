import time
from tui_helpers import SIZE, ready, settle, wait_for
async def test_timing(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for k in ["down","down","j","up","k","end","home","pagedown","pageup","enter"]:
            t=time.perf_counter()
            await pilot.press(k)
            print(k, f"{time.perf_counter()-t:.3f}", app.screen.table.cursor)
        await settle(pilot)
        app.save_screenshot("/tmp/s3.svg")
