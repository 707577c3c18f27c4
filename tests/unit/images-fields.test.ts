/**
 * Which payload fields carry images (handler/jobs/images/images.ts): per route, ControlNet units, the fields A1111
 * passes on undecoded, script URLs, and checkImages over all of them.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { checkImages, controlNetImageFields, imageFields, scriptUrlFields, undecodedImageIssues } from '../../handler/jobs/images/images.js';
import { resolveRoute } from '../../handler/jobs/input/routes.js';
import { b64, b64Lines, fakeDns, gifBytes, jobError, jpegBytes, pngBytes, pngHeaderOnly, webpLossyBytes } from './image-fixtures.js';

const LIMITS: LimitsConfig = loadConfig([], {}).limits;
const URL_LIMITS: LimitsConfig = { ...LIMITS, allowImageUrls: true };
const route = (name: string) => resolveRoute('POST', `/sdapi/v1/${name}`);
const PNG_64 = b64(pngBytes(64, 64));
const paths = (fields: Array<{ path: string }>): string[] => fields.map((f) => f.path);

describe('imageFields', () => {
  it("lists ControlNet detect's input images and masks, and checks them", async () => {
    const detect = resolveRoute('POST', '/controlnet/detect');
    expect(paths(imageFields(detect, { controlnet_module: 'canny', controlnet_input_images: ['a', ''], controlnet_masks: ['m'] }))).toEqual([
      'controlnet_input_images[0]',
      'controlnet_masks[0]',
    ]);
    await expect(checkImages(detect, { controlnet_input_images: [PNG_64] }, LIMITS)).resolves.toBeUndefined();
    await expect(checkImages(detect, { controlnet_input_images: ['http://10.0.0.1/a.png'] }, LIMITS)).rejects.toThrow('controlnet_input_images[0]: image URLs are not allowed');
  });

  it('lists the image fields of each route', () => {
    expect(paths(imageFields(route('img2img'), { init_images: ['a', 'b'], mask: 'm', latent_mask: 'l', firstpass_image: 'f', prompt: 'p' }))).toEqual([
      'init_images[0]',
      'init_images[1]',
      'mask',
    ]);
    expect(paths(imageFields(route('img2img'), { init_images: ['a'], mask: '' }))).toEqual(['init_images[0]']);
    expect(imageFields(route('txt2img'), { firstpass_image: 'f', enable_hr: true })).toEqual([]);
    for (const name of ['interrogate', 'png-info', 'extra-single-image']) {
      expect(paths(imageFields(route(name), { image: 'i' }))).toEqual(['image']);
    }
    expect(paths(imageFields(route('extra-batch-images'), { imageList: [{ data: 'a', name: 'a' }, { data: 'b', name: 'b' }] }))).toEqual([
      'imageList[0].data',
      'imageList[1].data',
    ]);
    expect(imageFields(route('options'), { image: 'x' })).toEqual([]);
  });

  it('counts ControlNet images of txt2img and img2img (what MAX_INPUT_IMAGES counts), not of other routes', () => {
    const alwayson_scripts = { controlnet: { args: [{ image: 'c0' }, { image: 'c1', mask: 'm1' }] } };
    expect(paths(imageFields(route('img2img'), { init_images: ['a'], alwayson_scripts }))).toEqual([
      'init_images[0]',
      'alwayson_scripts.controlnet.args[0].image',
      'alwayson_scripts.controlnet.args[1].image',
      'alwayson_scripts.controlnet.args[1].mask',
    ]);
    expect(imageFields(route('txt2img'), { alwayson_scripts })).toHaveLength(3);
    expect(imageFields(route('interrogate'), { image: 'i', alwayson_scripts })).toHaveLength(1);
  });

  it('never reads inherited properties', () => {
    expect(imageFields(route('img2img'), JSON.parse('{"__proto__": {"mask": "x"}}') as Record<string, unknown>)).toEqual([]);
    expect(controlNetImageFields(JSON.parse('{"alwayson_scripts": {"controlnet": {"args": [{"__proto__": {"image": "x"}}]}}}') as Record<string, unknown>)).toEqual([]);
  });
});

describe('controlNetImageFields (sd-webui-controlnet and Forge unit shapes)', () => {
  it('reads every image-carrying key of each unit, in document order', () => {
    const payload = {
      alwayson_scripts: {
        ADetailer: { args: [true, false, { ad_model: 'face_yolov8n.pt', image: 'not a ControlNet unit' }] },
        ControlNet: {
          args: [
            { enabled: true, image: 's0', mask: 'm0' }, // Mikubill: image and mask strings
            { image: { image: 'i1', mask: 'm1' }, mask_image: { image: 'f1' } }, // Forge: {image} objects
            { image: ['i2', 'm2'] }, // [image, mask]
            { image: [{ image: 'a3', mask: 'b3' }, { image: 'c3' }] }, // multi-input units
            { input_image: 'legacy4', mask_image: 'alias4', effective_region_mask: 'region4' },
            'not a unit',
            null,
            { image: 5, mask: { image: null }, effective_region_mask: '', input_image: [] }, // left to A1111
          ],
        },
      },
    };
    expect(controlNetImageFields(payload)).toEqual([
      { path: 'alwayson_scripts.ControlNet.args[0].image', value: 's0' },
      { path: 'alwayson_scripts.ControlNet.args[0].mask', value: 'm0' },
      { path: 'alwayson_scripts.ControlNet.args[1].image.image', value: 'i1' },
      { path: 'alwayson_scripts.ControlNet.args[1].image.mask', value: 'm1' },
      { path: 'alwayson_scripts.ControlNet.args[1].mask_image.image', value: 'f1' },
      { path: 'alwayson_scripts.ControlNet.args[2].image[0]', value: 'i2' },
      { path: 'alwayson_scripts.ControlNet.args[2].image[1]', value: 'm2' },
      { path: 'alwayson_scripts.ControlNet.args[3].image[0].image', value: 'a3' },
      { path: 'alwayson_scripts.ControlNet.args[3].image[0].mask', value: 'b3' },
      { path: 'alwayson_scripts.ControlNet.args[3].image[1].image', value: 'c3' },
      { path: 'alwayson_scripts.ControlNet.args[4].input_image', value: 'legacy4' },
      { path: 'alwayson_scripts.ControlNet.args[4].mask_image', value: 'alias4' },
      { path: 'alwayson_scripts.ControlNet.args[4].effective_region_mask', value: 'region4' },
    ]);
  });

  it('matches the script title case-insensitively, as A1111 does, and nothing else', () => {
    for (const title of ['controlnet', 'ControlNet', 'CONTROLNET']) {
      expect(controlNetImageFields({ alwayson_scripts: { [title]: { args: [{ image: 'x' }] } } })).toHaveLength(1);
    }
    for (const title of ['controlnet2', 'ControlNet Integrated', 'adetailer']) {
      expect(controlNetImageFields({ alwayson_scripts: { [title]: { args: [{ image: 'x' }] } } })).toEqual([]);
    }
    expect(controlNetImageFields({ alwayson_scripts: { controlnet: { args: { image: 'x' } } } })).toEqual([]);
    expect(controlNetImageFields({ alwayson_scripts: [] })).toEqual([]);
  });
});

describe('undecodedImageIssues (A1111 v1.10.1 never decodes firstpass_image and latent_mask)', () => {
  it('refuses firstpass_image only with enable_hr, where A1111 fails on the string', () => {
    expect(undecodedImageIssues(route('txt2img'), { firstpass_image: PNG_64, enable_hr: true })).toEqual([
      [
        'firstpass_image',
        "A1111's API passes it on undecoded (the base64 string, not an image), so with enable_hr the job would fail with a 500 (ValueError in the hires fix); A1111 only uses this field from its web UI: drop it",
      ],
    ]);
    expect(undecodedImageIssues(route('txt2img'), { firstpass_image: '', enable_hr: true })).toHaveLength(1);
    expect(undecodedImageIssues(route('txt2img'), { firstpass_image: PNG_64 })).toEqual([]);
    expect(undecodedImageIssues(route('txt2img'), { firstpass_image: null, enable_hr: true })).toEqual([]);
    expect(undecodedImageIssues(route('img2img'), { init_images: [PNG_64], firstpass_image: PNG_64, enable_hr: true })).toEqual([]);
  });

  it('refuses latent_mask only with a mask, where A1111 fails on the string', () => {
    const [issue] = undecodedImageIssues(route('img2img'), { init_images: [PNG_64], mask: PNG_64, latent_mask: PNG_64 });
    expect(issue).toEqual([
      'latent_mask',
      "A1111's API passes it on undecoded (the base64 string, not an image), so with a mask the job would fail with a 500 (AttributeError: 'str' object has no attribute 'convert'); A1111 only uses this field from its web UI: drop it",
    ]);
    expect(undecodedImageIssues(route('img2img'), { init_images: [PNG_64], latent_mask: PNG_64 })).toEqual([]);
    expect(undecodedImageIssues(route('img2img'), { init_images: [PNG_64], mask: '', latent_mask: PNG_64 })).toEqual([]);
  });
});

describe('ControlNet ipadapter_input (unpickled by sd-webui-controlnet)', () => {
  it('is refused in every ControlNet unit of txt2img and img2img, whatever its value', () => {
    const payload = { alwayson_scripts: { ControlNet: { args: [{ image: PNG_64 }, { ipadapter_input: 'gASV...' }, { ipadapter_input: ['a', 'b'] }, { ipadapter_input: null }] } } };
    const why = 'not accepted: sd-webui-controlnet loads it with torch.load (a pickle), so a crafted value would run code in A1111; send the IP-Adapter image in image instead';
    expect(undecodedImageIssues(route('txt2img'), payload)).toEqual([
      ['alwayson_scripts.ControlNet.args[1].ipadapter_input', why],
      ['alwayson_scripts.ControlNet.args[2].ipadapter_input', why],
    ]);
    expect(undecodedImageIssues(route('img2img'), { init_images: [PNG_64], ...payload })).toHaveLength(2);
    expect(undecodedImageIssues(route('txt2img'), { alwayson_scripts: { other: { args: [{ ipadapter_input: 'x' }] } } })).toEqual([]);
  });
});

describe('scriptUrlFields', () => {
  it('finds http(s) strings anywhere in script arguments', () => {
    const payload = {
      script_args: ['x', 'https://evil.example/a.png'],
      alwayson_scripts: { other: { args: [{ url: 'http://127.0.0.1/a.png', nested: [['http://10.0.0.1/']] }, 'ftp://x', 'HTTP://x'] } },
    };
    expect(scriptUrlFields(payload)).toEqual([
      { path: 'script_args[1]', value: 'https://evil.example/a.png' },
      { path: 'alwayson_scripts.other.args[0].url', value: 'http://127.0.0.1/a.png' },
      { path: 'alwayson_scripts.other.args[0].nested[0][0]', value: 'http://10.0.0.1/' },
    ]);
  });
});

describe('checkImages', () => {
  it('accepts valid images of every route, in any format and with MIME line breaks', async () => {
    const jpeg = b64(jpegBytes(64, 64));
    await checkImages(route('img2img'), { init_images: [PNG_64, `data:image/jpeg;base64,${jpeg}`], mask: b64Lines(gifBytes(64, 64)), batch_size: 2 }, LIMITS);
    await checkImages(route('txt2img'), { firstpass_image: PNG_64 }, LIMITS);
    await checkImages(route('img2img'), { init_images: [PNG_64], latent_mask: PNG_64 }, LIMITS);
    await checkImages(route('interrogate'), { image: b64(webpLossyBytes(64, 64)) }, LIMITS);
    await checkImages(route('png-info'), { image: PNG_64 }, LIMITS);
    await checkImages(route('extra-single-image'), { image: `data:image/gif;base64,${b64(gifBytes(8, 8))}` }, LIMITS);
    await checkImages(route('extra-batch-images'), { imageList: [{ data: PNG_64, name: 'a.png' }] }, LIMITS);
    await checkImages(route('txt2img'), { alwayson_scripts: { ControlNet: { args: [{ image: { image: PNG_64, mask: b64Lines(pngBytes(64, 64)) } }] } } }, LIMITS);
  });

  it('names every refused field with its path, undecoded fields first, then in field order', async () => {
    const html = b64(Buffer.from('<html>hello</html>!!'));
    const m = await jobError(
      checkImages(route('img2img'), { init_images: [PNG_64, html, 'abc'], mask: 'http://example.com/m.png', latent_mask: 'x', batch_size: 3 }, LIMITS),
    );
    expect(m).toBe(
      "invalid payload for POST /sdapi/v1/img2img: latent_mask: A1111's API passes it on undecoded (the base64 string, not an image), so with a mask the job would fail with a 500 (AttributeError: 'str' object has no attribute 'convert'); A1111 only uses this field from its web UI: drop it; " +
        'init_images[1]: not an image A1111 could open (starts with 3c68746d): formats read are PNG, JPEG, WebP, GIF, BMP, TIFF, ICO, CUR, ICNS, DDS, PSD, TGA, PNM, JPEG 2000, AVIF, HEIF/HEIC, JPEG XL, KTX; ' +
        'init_images[2]: is not valid base64: 3 characters is not a multiple of 4 (missing "=" padding?); ' +
        'mask: image URLs are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)',
    );
    const batch = await jobError(checkImages(route('extra-batch-images'), { imageList: [{ data: PNG_64, name: 'a' }, { data: 'iVBO-w0K', name: 'b' }] }, LIMITS));
    expect(batch).toContain('imageList[1].data: is not valid base64: URL-safe alphabet ("-" at offset 4)');
  });

  it('applies the caps and the image rules to ControlNet units', async () => {
    const big = b64(gifBytes(9000, 10));
    const payload = { alwayson_scripts: { controlnet: { args: [{ image: PNG_64 }, { image: big, mask: 'iVBO*w0K' }] } } };
    expect(await jobError(checkImages(route('txt2img'), payload, LIMITS))).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: alwayson_scripts.controlnet.args[1].image: GIF of 9000 × 10 px is over MAX_IMAGE_SIDE=8192; ' +
        'alwayson_scripts.controlnet.args[1].mask: is not valid base64: "*" at offset 4 is not a base64 character',
    );
    const small = { ...LIMITS, maxInputImageBytes: 1024 };
    expect(await jobError(checkImages(route('img2img'), { init_images: [PNG_64], alwayson_scripts: { controlnet: { args: [{ image: b64(Buffer.concat([pngHeaderOnly(2, 2), Buffer.alloc(2000)])) }] } } }, small))).toMatch(
      /alwayson_scripts\.controlnet\.args\[0\]\.image: 2033 bytes decoded, over MAX_INPUT_IMAGE_BYTES=1024$/,
    );
  });

  it('refuses URLs when ALLOW_IMAGE_URLS is false, without any DNS lookup; ControlNet image URLs are image URLs', async () => {
    const spy = fakeDns({ 'images.example.com': ['93.184.216.34'] });
    const m = await jobError(checkImages(route('interrogate'), { image: 'https://images.example.com/a.png' }, LIMITS, { lookup: spy }));
    expect(m).toBe(
      'invalid payload for POST /sdapi/v1/interrogate: image: image URLs are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)',
    );
    const payload = { alwayson_scripts: { controlnet: { args: [{ image: 'http://127.0.0.1:3000/sdapi/v1/options', extra: 'https://x.example/' }] } } };
    expect(await jobError(checkImages(route('txt2img'), payload, LIMITS, { lookup: spy }))).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: alwayson_scripts.controlnet.args[0].image: image URLs are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…); ' +
        'alwayson_scripts.controlnet.args[0].extra: URLs in script arguments (A1111 would fetch them) are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)',
    );
    expect(spy.asked).toEqual([]);
  });

  it('with ALLOW_IMAGE_URLS=true accepts public URLs and refuses the others, ControlNet units included', async () => {
    const dns = fakeDns({ 'images.example.com': ['93.184.216.34'], 'intranet.example.com': ['10.1.1.1'] });
    await checkImages(route('img2img'), { init_images: ['https://images.example.com/a.png'] }, URL_LIMITS, { lookup: dns });
    const m = await jobError(
      checkImages(
        route('img2img'),
        {
          init_images: ['https://images.example.com/a.png', 'http://intranet.example.com/a.png'],
          mask: 'http://169.254.169.254/',
          alwayson_scripts: { controlnet: { args: [{ image: { image: 'http://[::1]/x.png' } }] } },
          batch_size: 2,
        },
        URL_LIMITS,
        { lookup: dns },
      ),
    );
    expect(m).toBe(
      'invalid payload for POST /sdapi/v1/img2img: init_images[1]: URL host "intranet.example.com" resolves to 10.1.1.1, private 10.0.0.0/8: only public addresses are allowed; ' +
        'mask: URL host "169.254.169.254" is link-local 169.254.0.0/16: only public addresses are allowed; ' +
        'alwayson_scripts.controlnet.args[0].image.image: URL host "::1" is loopback ::1: only public addresses are allowed',
    );
    await checkImages(route('txt2img'), { script_args: ['ftp://x', 'plain text', 1] }, LIMITS);
  });

  it('does nothing for routes without images or a non-object payload', async () => {
    await checkImages(resolveRoute('GET', '/sdapi/v1/samplers'), undefined, LIMITS);
    await checkImages(route('options'), { sd_vae: 'x' }, LIMITS);
    await checkImages(route('txt2img'), 'nonsense', LIMITS);
  });
});
