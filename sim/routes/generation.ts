/** The generation routes: `txt2img` and `img2img` (A1111 `modules/api/api.py` `text2imgapi`, `img2imgapi`). */
import type { SimEnv } from '../env.js';
import { runImg2Img, runTxt2Img } from '../generate.js';
import { img2imgModel, txt2imgModel } from '../models.js';
import { apiRoute, modelBody, type SimRoute } from './route.js';

/** `POST /sdapi/v1/txt2img` and `POST /sdapi/v1/img2img` with the flavor's request models. */
export function generationRoutes(env: SimEnv): SimRoute[] {
  return [
    apiRoute('post', 'txt2img', 'text2imgapi', (c) => runTxt2Img(env, modelBody(env, c)), { body: txt2imgModel(env.flavor) }),
    apiRoute('post', 'img2img', 'img2imgapi', (c) => runImg2Img(env, modelBody(env, c)), { body: img2imgModel(env.flavor) }),
  ];
}
