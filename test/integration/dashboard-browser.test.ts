import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import type { Worker } from '../../src/daemon/worker.js';
import type { Dashboard } from '../../src/dashboard/server.js';
import { dashboardToken, startTestDashboard, submitJob } from '../helpers/dashboard.js';
import { eventually, finalStatus, jobStatus, startStack, startTestWorker, type TestStack } from '../helpers/pipeline.js';
import { makeClip } from '../helpers/video-media.js';

/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (`npx playwright
 * install` downloads a browser build, which cannot work here), against a dashboard over the real
 * emulator with real audio, CSV and video jobs. `.ci/run` installs chromium; without it these skip.
 * DASHBOARD_SCREENSHOTS=1 also writes the pictures in docs/dashboard.md.
 */
const chromiumPath = '/usr/bin/chromium';
const skip = existsSync(chromiumPath) ? false : `${chromiumPath} is missing (apt-get install chromium): the browser tests need Debian's chromium`;
if (skip) console.log(`# dashboard browser tests skipped: ${skip}`);
const screenshots = process.env.DASHBOARD_SCREENSHOTS === '1';
const hostileName = '<img src=x onerror=alert(1)>.csv';
const speechClip = new URL('../fixtures/speech.mp3', import.meta.url);

describe('the dashboard in chromium', { skip, timeout: 600_000 }, () => {
  let stack: TestStack;
  let worker: Worker;
  let dash: Dashboard;
  let browser: Browser;
  let dir: string;
  const dialogs: string[] = [];
  const problems: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dashboard-browser-'));
    stack = await startStack();
    worker = await startTestWorker(stack);
    dash = await startTestDashboard(stack);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--autoplay-policy=no-user-gesture-required', '--mute-audio'] });
    // Real jobs, one of each: audio (speech), CSV with rejects (one of them hostile), a failed one; video later.
    await submitJob(stack, { jobId: 'ui-audio', name: 'speech.mp3', body: await readFile(speechClip), kind: 'audio' });
    await submitJob(stack, {
      jobId: 'ui-csv',
      name: 'orders.csv',
      body: 'id,name\n1,alpha\nnope,beta\n3,<script>alert(2)</script>\n4,delta\n',
      kind: 'csv',
      extra: { csv: { schema: { fields: [{ name: 'id', type: 'integer' }, { name: 'name', type: 'string', constraints: { pattern: '[a-z]+' } }] }, maxErrorRate: 0.9 } },
    });
    await submitJob(stack, { jobId: 'ui-hostile', name: hostileName, body: 'id\n1\n', kind: 'csv' });
    await submitJob(stack, { jobId: 'ui-failed', name: 'late.csv', body: '', kind: 'csv' });
    for (const id of ['ui-audio', 'ui-csv', 'ui-hostile', 'ui-failed']) await finalStatus(stack.store, id, 120_000);
  }, { timeout: 300_000 });

  after(async () => {
    await browser?.close();
    await dash?.close();
    await worker?.stop();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(hash = ''): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m: ConsoleMessage) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
    await page.goto(`${dash.url}${hash}`);
    return page;
  }

  const shoot = async (page: Page, name: string) => {
    // The whole page, except the video's (its frames make a large picture).
    if (screenshots) await page.screenshot({ path: `docs/dashboard-${name}.png`, fullPage: name !== 'video' });
  };

  test('the list shows a job within seconds of its finishing, live, with the queues', async () => {
    const page = await open();
    await page.locator('.queue-table tbody tr').first().waitFor();
    assert.equal(await page.locator('.queue-table tbody tr').count(), 3);
    await page.locator('tr[data-job="ui-audio"]').waitFor();
    await submitJob(stack, { jobId: 'ui-live', name: 'live.csv', body: 'id\n1\n2\n', kind: 'csv' });
    const finished = await finalStatus(stack.store, 'ui-live');
    const seenAt = await eventually(async () => ((await page.locator('tr[data-job="ui-live"] .badge').textContent()) === 'succeeded' ? Date.now() : undefined), 'the finished job in the list', 15_000, 50);
    const lag = seenAt - Date.parse(finished.updatedAt);
    assert.ok(lag < 5000, `shown ${lag} ms after it finished`);
    await page.selectOption('#filter-state', 'failed');
    await page.locator('tr[data-job="ui-failed"]').waitFor();
    assert.equal(await page.locator('tr[data-job="ui-live"]').count(), 0, 'the state filter hides it');
    await page.selectOption('#filter-state', '');
    await page.fill('#filter-q', 'ORDERS');
    await eventually(async () => ((await page.locator('tbody tr[data-job]').count()) === 1 ? true : undefined), 'the search to leave one job');
    assert.equal(await page.locator('tr[data-job="ui-csv"]').count(), 1);
    await page.fill('#filter-q', '');
    await page.locator('tr[data-job="ui-live"]').waitFor();
    await shoot(page, 'list');
    await page.close();
  });

  test('the audio job draws its waveform, plays, seeks and zooms', async () => {
    const page = await open('#/jobs/ui-audio');
    await page.locator('.kind-view[data-ready="true"]').waitFor({ timeout: 20_000 });
    // Pixels any canvas of the zoom view has drawn (not transparent). Page code is a string: this program has no DOM types.
    const inked = () =>
      page.evaluate<number>(`[...document.querySelectorAll('#zoomview canvas')].reduce((n, c) => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
        return n + inked;
      }, 0)`);
    const pixels = await eventually(async () => ((await inked()) > 500 ? inked() : undefined), 'the waveform to be drawn', 10_000);
    assert.ok(pixels > 500, `${pixels} inked pixels`);
    await page.click('#play');
    const playedTo = await eventually(async () => {
      const t = await page.evaluate<number>(`document.querySelector('#player-audio').currentTime`);
      return t > 0.5 ? t : undefined;
    }, 'the audio to play', 10_000);
    assert.ok(playedTo > 0.5);
    await page.click('#play');
    // A click on the waveform seeks there.
    const box = (await page.locator('#zoomview').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height / 2);
    await shoot(page, 'audio');
    const drawn = () => page.evaluate<string>(`[...document.querySelectorAll('#zoomview canvas')].map((c) => c.toDataURL()).join()`);
    const before = await drawn();
    await page.click('#zoom-out');
    await page.click('#zoom-out');
    await eventually(async () => ((await drawn()) !== before ? true : undefined), 'the zoomed waveform to differ');
    assert.deepEqual(problems, []);
    assert.equal(await page.locator('.kind-view .error, main > .error').count(), 0, 'no error shown');
    await page.close();
  });

  test('the CSV job shows its validation report, its rejected rows (as text) and its column statistics', async () => {
    const page = await open('#/jobs/ui-csv');
    await page.locator('#rejects tbody tr').first().waitFor({ timeout: 10_000 });
    const report = await page.locator('#validation-report').textContent();
    assert.match(report ?? '', /rows read4/);
    assert.match(report ?? '', /rejected2/);
    const rejects = await page.locator('#rejects tbody tr').allTextContents();
    assert.ok(rejects.some((r) => r.includes('nope')), rejects.join('|'));
    assert.ok(rejects.some((r) => r.includes('<script>alert(2)</script>')), 'the hostile value shown as text');
    assert.equal(await page.locator('#rejects script').count(), 0);
    assert.ok((await page.locator('#column-stats tbody tr').count()) >= 2);
    assert.equal(await page.locator('.kind-view .error').count(), 0);
    await shoot(page, 'csv');
    assert.deepEqual(dialogs, []);
    await page.close();
  });

  test('a job named <img src=x onerror=alert(1)>.csv is text in the list and on its page; no dialog fires', async () => {
    const page = await open();
    const cell = page.locator('tr[data-job="ui-hostile"] .input-key');
    await cell.waitFor();
    assert.equal(await cell.textContent(), `uploads/ui-hostile/${hostileName}`);
    await page.click('tr[data-job="ui-hostile"] a');
    await page.locator('.job-head dd.mono').waitFor();
    assert.match((await page.locator('.job-head dd.mono').textContent()) ?? '', /<img src=x onerror=alert\(1\)>\.csv$/);
    await page.waitForTimeout(500);
    assert.equal(await page.evaluate<number>(`document.querySelectorAll('img').length`), 0, 'no element was made from the name');
    assert.deepEqual(dialogs, []);
    assert.deepEqual(problems, []);
    assert.equal(await page.locator('.kind-view .error, main > .error').count(), 0, 'no error shown');
    await page.close();
  });

  test('retry with the token: the failed job runs again from the page', async () => {
    const page = await open('#/jobs/ui-failed');
    await page.locator('button[data-action="retry"]').waitFor();
    const key = (await jobStatus(stack.store, 'ui-failed'))!.input.key;
    // Without the token the action is refused and the job stays failed.
    await page.click('button[data-action="retry"]');
    await page.locator('.action-result', { hasText: 'needs Authorization' }).waitFor();
    assert.equal((await jobStatus(stack.store, 'ui-failed'))?.state, 'failed');
    await stack.clients.s3.send(new PutObjectCommand({ Bucket: stack.emulator.bucket, Key: key, Body: 'id\n1\n' }));
    await page.fill('#token', dashboardToken);
    await page.click('#token-form button');
    await page.click('button[data-action="retry"]');
    await page.locator('.job-head .badge', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    assert.equal((await jobStatus(stack.store, 'ui-failed'))?.state, 'succeeded');
    // Its outputs are shown too: an empty rejects.jsonl is an empty table, not an error.
    await page.locator('#validation-report').waitFor();
    await page.locator('.kind-view', { hasText: 'No row was rejected.' }).waitFor();
    assert.equal(await page.locator('.kind-view .error').count(), 0);
    assert.ok(!(await page.content()).includes(dashboardToken), 'the token is not written into the page');
    await shoot(page, 'job');
    await page.close();
  });

  test('a video job plays its HLS ladder with the poster and the thumbnail strip', async () => {
    const clip = await makeClip(dir, { name: 'clip.mp4', seconds: 4, width: 320, height: 180 });
    await submitJob(stack, { jobId: 'ui-video', name: 'clip.mp4', body: await readFile(clip), kind: 'video' });
    const status = await finalStatus(stack.store, 'ui-video', 240_000);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.error));
    const page = await open('#/jobs/ui-video');
    await page.locator('.kind-view[data-ready="true"]').waitFor({ timeout: 20_000 });
    assert.match((await page.getAttribute('#player-video', 'poster')) ?? '', /\/outputs\/video\/poster\.jpg$/);
    await page.locator('#thumbnails .thumb').first().waitFor({ timeout: 10_000 });
    const h264 = await page.evaluate<boolean>(`MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"')`);
    if (h264) {
      await page.evaluate(`void document.querySelector('#player-video').play()`);
      await eventually(async () => ((await page.evaluate<number>(`document.querySelector('#player-video').currentTime`)) > 0.3 ? true : undefined), 'the video to play', 15_000);
    } else {
      console.log('# this chromium has no H.264 in Media Source Extensions: the video is attached, not played');
    }
    await shoot(page, 'video');
    assert.deepEqual(problems, []);
    assert.equal(await page.locator('.kind-view .error, main > .error').count(), 0, 'no error shown');
    await page.close();
  });
});
