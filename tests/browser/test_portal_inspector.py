"""An inspector's own pages in a real browser: evidence upload by drag and drop and by the plain
file input (the SHA-256 computed in the browser equals the one the evidence store records);
complaint registration with the informant's identity (a complaint handler); claims import and a
screening run with the progress the service reports, then a hit confirmed."""
from __future__ import annotations

import hashlib
import re
import uuid

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

from tests.browser.test_portal_journey import Session

pytestmark = [pytest.mark.browser, pytest.mark.platform]   # both backends


def test_evidence_upload_by_drop_and_by_file_input_shows_the_sha256(browser, portal_server):
    insp = Session(browser, portal_server.base_url, "insp-zhang")
    p = insp.page
    p.get_by_role("navigation", name="主导航").get_by_role("link", name="证据").click()
    expect(p.get_by_role("heading", name="证据", exact=True)).to_be_visible()
    insp.shot("inspector-evidence")

    body = f"询问笔录 {uuid.uuid4()}".encode()
    digest = hashlib.sha256(body).hexdigest()
    # drag and drop: a file dropped on the zone lands in the file input
    p.evaluate("""([name, text]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], name, {type: "text/plain"}));
        document.querySelector("[data-dropzone]").dispatchEvent(
            new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", ["dropped.txt", body.decode()])
    expect(p.locator("#file-hash")).to_have_text(f"dropped.txt · SHA-256：{digest}")
    p.get_by_label("说明").fill("拖放上传的笔录")
    p.get_by_role("button", name="上传").click()
    expect(p.get_by_text(f"SHA-256：{digest}")).to_be_visible()          # the service's hash
    expect(p.locator("#evidence-list")).to_contain_text(digest)

    # the plain file input (no script needed)
    other = f"现场检查记录 {uuid.uuid4()}".encode()
    p.get_by_label("选择证据文件").set_input_files(
        {"name": "检查记录.txt", "mimeType": "text/plain", "buffer": other})
    p.get_by_role("button", name="上传").click()
    expect(p.get_by_text(f"证据「检查记录.txt」已保存，SHA-256：{hashlib.sha256(other).hexdigest()}")).to_be_visible()
    insp.close()


def test_complaint_registration_with_the_informant_for_a_handler(browser, portal_server):
    insp = Session(browser, portal_server.base_url, "insp-zhang")
    p = insp.page
    p.get_by_role("navigation", name="主导航").get_by_role("link", name="举报").click()
    p.get_by_role("link", name="登记举报").click()
    expect(p.get_by_role("group", name=re.compile("举报人信息"))).to_be_visible()
    insp.shot("inspector-complaint-form")
    p.get_by_label("被举报机构编码").fill("H5101001")
    p.get_by_label("被举报机构名称").fill("成都某某医院")
    p.get_by_label("实名举报").check()
    p.get_by_label("举报内容").fill("该院虚构康复理疗项目，串换收费。")
    p.get_by_role("button", name="登记").click()
    expect(p.get_by_role("alert")).to_contain_text("实名举报须登记举报人姓名")   # the service's rule, in Chinese
    insp.console_errors.clear()       # the browser logs the (intended) 422 response
    p.get_by_label("姓名", exact=True).fill("王某")
    p.get_by_label("联系电话").fill("13800000000")
    p.get_by_role("button", name="登记").click()
    expect(p.get_by_text("举报已登记")).to_be_visible()
    listing = p.locator("table.grid").inner_text()
    assert "成都某某医院" in listing and "实名" in listing and "王某" not in listing
    insp.close()


def test_claims_import_and_screening_show_progress_then_a_hit_is_confirmed(
        browser, portal_server, platform, tokens, tmp_path):
    from fundguard_inspection.screening.samples import row, write_claims_csv
    inst = "SCR" + uuid.uuid4().hex[:6].upper()
    # the region's institution pool (set up through the API: the portal has no pool page)
    r = platform.call("PUT", "inspection", "/api/v1/pools/institutions", tokens["leader"], json=[
        {"institution_id": inst, "name": "筛查测试医院", "level": "二级及以上",
         "local_department": "稽核一科"}])
    assert r.status_code in (200, 201), r.text
    tag = uuid.uuid4().hex[:6]
    path = write_claims_csv(tmp_path / "claims.csv", [
        row(claim_id=f"A{tag}", institution_code=inst, patient_id_hash=f"P{tag}",
            admit_date="2025-05-01", discharge_date="2025-05-04", service_date="2025-05-01",
            unit_price="400.00"),
        row(claim_id=f"B{tag}", institution_code=inst, patient_id_hash=f"P{tag}",
            admit_date="2025-05-08", discharge_date="2025-05-12", service_date="2025-05-08",
            unit_price="400.00")])

    insp = Session(browser, portal_server.base_url, "insp-zhang")
    p = insp.page
    p.get_by_role("navigation", name="主导航").get_by_role("link", name="智能筛查").click()
    p.wait_for_url(re.compile(r".*/screening$"))
    insp.shot("inspector-screening")
    token = p.locator("#import-form input[name=progress_token]").input_value()
    p.get_by_label("选择结算数据文件").set_input_files(str(path))
    p.get_by_role("button", name="导入").click()
    expect(p.locator("#progress-box")).to_be_visible()
    expect(p.get_by_text(re.compile("导入完成：读取 2 行，载入 2 行"))).to_be_visible()
    # the service reported the import's stages to the progress read the page polls
    progress = p.request.get(f"/screening/progress/{token}").json()
    assert progress["stage"] == "done" and progress["done"] == progress["total"] == 2

    p.get_by_role("button", name="开始筛查").click()
    expect(p.get_by_text(re.compile("筛查完成"))).to_be_visible()
    expect(p.get_by_role("heading", name=re.compile("筛查结果"))).to_be_visible()
    hit = p.locator("section.hit", has_text=inst).first
    hit.get_by_label("复核理由").fill("病历核实，属分解住院")
    hit.get_by_role("button", name="确认疑点").click()
    expect(p.get_by_text("已确认疑点")).to_be_visible()
    expect(p.locator("section.hit", has_text=inst).first).to_contain_text("已确认")
    insp.close()
