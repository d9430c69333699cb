// Webview script for the reconstruction view: renders what the extension posts (original vs reconstructed
// images with PSNR/SSIM). It never touches the file system; all data arrives by postMessage.
interface ReconstructionMessage {
  type: 'reconstruction';
  model: string;
  images: { label: string; original: string; reconstructed: string; psnr: number; ssim: number }[];
}

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

const vscodeApi = acquireVsCodeApi();

window.addEventListener('message', (event: MessageEvent<ReconstructionMessage>) => {
  const message = event.data;
  if (message.type !== 'reconstruction') return;
  const root = document.getElementById('root')!;
  root.replaceChildren();
  const title = document.createElement('h2');
  title.textContent = message.model;
  root.appendChild(title);
  for (const image of message.images) {
    const row = document.createElement('div');
    row.className = 'row';
    for (const [caption, src] of [['original', image.original], ['reconstructed', image.reconstructed]] as const) {
      const figure = document.createElement('figure');
      const img = document.createElement('img');
      img.src = src;
      img.alt = `${image.label} ${caption}`;
      const figcaption = document.createElement('figcaption');
      figcaption.textContent = caption;
      figure.append(img, figcaption);
      row.appendChild(figure);
    }
    const metrics = document.createElement('p');
    metrics.textContent = `PSNR ${Number.isFinite(image.psnr) ? image.psnr.toFixed(1) + ' dB' : '∞'} · SSIM ${image.ssim.toFixed(3)}`;
    row.appendChild(metrics);
    root.appendChild(row);
  }
});

vscodeApi.postMessage({ type: 'ready' });
